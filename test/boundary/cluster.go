// cluster: the driver's own throw-away PostgreSQL cluster (initdb, start,
// restart with shared_preload_libraries, stop), run as the OS user postgres
// when the driver runs as root.
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// secretEnv is put in the server's environment; trusted Lua must not see it.
const (
	secretEnv   = "PLERL_BOUNDARY_SECRET"
	secretValue = "boundary-secret-7f3a9c"
)

type Cluster struct {
	Dir     string // holds data/, the socket and server.log
	Port    int
	BinDir  string
	running bool
	cred    *syscall.Credential
}

func (c *Cluster) DataDir() string { return filepath.Join(c.Dir, "data") }
func (c *Cluster) LogFile() string { return filepath.Join(c.Dir, "server.log") }
func (c *Cluster) Socket() string  { return socketPath(c.Dir, c.Port) }

func newCluster(dir string, port int, bindir string) (*Cluster, error) {
	c := &Cluster{Dir: dir, Port: port, BinDir: bindir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the OS user postgres: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) cmd(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.BinDir, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C", secretEnv+"="+secretValue)
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	cmd.Dir = c.Dir
	return cmd
}

func (c *Cluster) runCmd(name string, args ...string) error {
	cmd := c.cmd(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

// Init runs initdb and writes the settings every test relies on.
func (c *Cluster) Init() error {
	if err := c.runCmd("initdb", "-D", c.DataDir(), "-U", "postgres", "--auth=trust",
		"--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		return err
	}
	conf := fmt.Sprintf(`
# boundary test cluster
port = %d
listen_addresses = ''
unix_socket_directories = '%s'
max_connections = 40
shared_buffers = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
deadlock_timeout = 100ms
log_line_prefix = '%%m [%%p] '
# ERRORs of the 10,000-iteration tests would bury the LOG lines that matter
log_min_messages = log
`, c.Port, c.Dir)
	f, err := os.OpenFile(filepath.Join(c.DataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(conf)
	return err
}

// Start starts the server; preload puts plerl in shared_preload_libraries.
func (c *Cluster) Start(preload bool) error {
	opts := "-c shared_preload_libraries=''"
	if preload {
		opts = "-c shared_preload_libraries=plerl"
	}
	if err := c.runCmd("pg_ctl", "start", "-w", "-t", "60", "-D", c.DataDir(),
		"-l", c.LogFile(), "-o", opts); err != nil {
		return err
	}
	c.running = true
	return nil
}

func (c *Cluster) Stop() error {
	if !c.running {
		return nil
	}
	err := c.runCmd("pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", c.DataDir())
	if err != nil {
		err2 := c.runCmd("pg_ctl", "stop", "-w", "-t", "30", "-m", "immediate", "-D", c.DataDir())
		if err2 == nil {
			c.running = false
		}
		return err
	}
	c.running = false
	return nil
}

// PostmasterPID reads postmaster.pid.
func (c *Cluster) PostmasterPID() (int, error) {
	b, err := os.ReadFile(filepath.Join(c.DataDir(), "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

// Connect opens a superuser session on the postgres database.
func (c *Cluster) Connect() (*Conn, error) {
	var lastErr error
	for i := 0; i < 50; i++ {
		cn, err := Connect(c.Socket(), "postgres", "postgres")
		if err == nil {
			return cn, nil
		}
		lastErr = err
		// "the database system is starting up" right after a restart
		time.Sleep(100 * time.Millisecond)
	}
	return nil, lastErr
}
