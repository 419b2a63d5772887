// TLS distribution against a real node started with -proto_dist inet_tls and a throw-away certificate.
package dist

import (
	"context"
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/plerl/plerl/runtime/term"
)

func TestLiveTLS(t *testing.T) {
	needErl(t)
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
		"-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v: %s", err, out)
	}
	conf := filepath.Join(dir, "ssl_dist.conf")
	os.WriteFile(conf, []byte(`[{server,[{certfile,"`+cert+`"},{keyfile,"`+key+`"}]},`+
		`{client,[{certfile,"`+cert+`"},{keyfile,"`+key+`"},{verify,verify_none}]}].`), 0o644)
	n := startNode(t, "-proto_dist", "inet_tls", "-ssl_dist_optfile", conf)

	cfg := testConfig(n)
	cfg.TLS = &tls.Config{InsecureSkipVerify: true} // throw-away self-signed certificate
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg, n.Name)
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer c.Close()
	if v, err := c.Call(ctx, "erlang", "node", nil); err != nil || v != term.Atom(n.Name) {
		t.Fatalf("call over TLS: %v %v", v, err)
	}
	if v, err := c.CallKill(ctx, "lists", "seq", []any{1, 2}); err != nil || !term.Equal(v, term.List{int64(1), int64(2)}) {
		t.Fatalf("erpc over TLS: %v %v", v, err)
	}
	// Plain TCP against the TLS port fails (the peer closes at once).
	plain := testConfig(n)
	plain.TLS = nil
	if _, err := Dial(ctx, plain, n.Name); err == nil {
		t.Fatal("plain handshake against a TLS node succeeded")
	}
	// Wrong cookie inside TLS is still refused.
	bad := testConfig(n)
	bad.TLS, bad.Cookie = cfg.TLS, "nope"
	if _, err := Dial(ctx, bad, n.Name); !IsCookieRefused(err) {
		t.Fatalf("want CookieRefused over TLS, got %v", err)
	}
}
