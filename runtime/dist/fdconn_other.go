//go:build !linux

package dist

import (
	"context"
	"errors"
	"net"
)

// Elsewhere than Linux every socket is a net.TCPConn (see fdconn_linux.go).
const fdDialSupported = false

type fdConn struct{ net.Conn }

func dialFd(ctx context.Context, host string, port int, dist bool) (*fdConn, error) {
	return nil, errors.New("dialFd: not supported on this platform")
}

func (c *fdConn) readCtx(ctx context.Context, direct bool, p []byte) (int, error) { return c.Read(p) }

func (c *fdConn) pollerRead(p []byte) (int, error) { return c.Read(p) }
func (c *fdConn) dropPoller()                      {}

func (c *fdConn) writeNoWait(p []byte) (int, error) { return c.Write(p) }

func (c *fdConn) writeCtx(ctx context.Context, p []byte) (int, error) { return c.Write(p) }
