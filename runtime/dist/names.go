// Node names: our own bounded-set names and validation of peer names.
package dist

import (
	"fmt"
	"strconv"
	"strings"
)

// Why a bounded set of names: every node name that ever connects to an
// Erlang node becomes an atom in that node's atom table, and atoms are never
// garbage collected (measured on OTP 25: one atom per distinct name, kept
// forever). A name derived from the PostgreSQL backend pid would leak one
// atom per backend ever started and eventually crash the Erlang node at the
// atom limit. Using the backend *slot* (bounded by max_connections) keeps the
// set of names small and fixed for a cluster.
//
// Reusing a name is safe: a second connection under a name the peer still
// has connected gets status "alive" (see Config.ReplaceAlive).

// MaxAliveLen bounds the part before '@'. Erlang allows 255 bytes for a whole
// node name; we keep ours well under it.
const MaxAliveLen = 200

// NodeName builds "<prefix>_<clusterID>_<slot>@<host>", e.g.
// NodeName("plerl", "c1", 3, "127.0.0.1") = "plerl_c1_3@127.0.0.1".
// prefix and clusterID may hold [A-Za-z0-9_-]; host may hold [A-Za-z0-9._-]
// (a host name or an IPv4 address). slot must be >= 0: pass the backend's
// slot number, never its process id (see above).
func NodeName(prefix, clusterID string, slot int, host string) (string, error) {
	if prefix == "" {
		return "", fmt.Errorf("dist: node name prefix is empty")
	}
	if err := checkChars("prefix", prefix, false); err != nil {
		return "", err
	}
	if clusterID == "" {
		return "", fmt.Errorf("dist: node name cluster id is empty")
	}
	if err := checkChars("cluster id", clusterID, false); err != nil {
		return "", err
	}
	if slot < 0 {
		return "", fmt.Errorf("dist: node name slot %d is negative", slot)
	}
	if host == "" {
		return "", fmt.Errorf("dist: node name host is empty")
	}
	if err := checkChars("host", host, true); err != nil {
		return "", err
	}
	alive := prefix + "_" + clusterID + "_" + strconv.Itoa(slot)
	if len(alive) > MaxAliveLen {
		return "", fmt.Errorf("dist: node name %q is longer than %d bytes", alive, MaxAliveLen)
	}
	if len(host) > 255-1-len(alive) {
		return "", fmt.Errorf("dist: node name host is too long")
	}
	return alive + "@" + host, nil
}

func checkChars(what, s string, dots bool) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		case c == '.' && dots:
		default:
			return fmt.Errorf("dist: node name %s %q: character %q not allowed", what, s, c)
		}
	}
	return nil
}

// splitNode splits "alive@host" and checks both parts are non-empty and
// short enough for the wire (node names are atoms: at most 255 bytes).
func splitNode(node string) (alive, host string, err error) {
	i := strings.IndexByte(node, '@')
	if i <= 0 || i == len(node)-1 || strings.IndexByte(node[i+1:], '@') >= 0 {
		return "", "", fmt.Errorf("dist: node name %q is not alive@host", node)
	}
	if len(node) > 255 {
		return "", "", fmt.Errorf("dist: node name is longer than 255 bytes")
	}
	return node[:i], node[i+1:], nil
}
