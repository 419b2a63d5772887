// tls: a node started with -proto_dist inet_tls and a throw-away CA, a
// server certificate for 127.0.0.1 and a client certificate, both required
// (verify_peer, fail_if_no_peer_cert). A plerl server with tls 'on' and the
// superuser-only file options reaches it; a wrong CA, a missing client
// certificate, a wrong server name and plain TCP do not, with clear errors.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func (e *env) tls() {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		fmt.Println("# tls: skipped, openssl is not installed")
		return
	}
	if e.erl == "" {
		e.check("tls/erl", false, "erl is not installed")
		return
	}
	dir := filepath.Join(e.dir, "tls")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.check("tls/dir", false, "%v", err)
		return
	}
	ssl := func(args ...string) error {
		cmd := exec.Command(openssl, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("openssl %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	os.WriteFile(p("server.ext"), []byte("subjectAltName = IP:127.0.0.1, DNS:localhost\n"), 0o644)
	os.WriteFile(p("client.ext"), []byte("extendedKeyUsage = clientAuth\n"), 0o644)
	steps := [][]string{
		{"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=plerl test CA", "-keyout", "ca.key", "-out", "ca.pem"},
		{"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=some other CA", "-keyout", "other.key", "-out", "other.pem"},
		{"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr"},
		{"x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem"},
		{"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=plerl client", "-keyout", "client.key", "-out", "client.csr"},
		{"x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "client.ext", "-out", "client.pem"},
	}
	for _, s := range steps {
		if err := ssl(s...); err != nil {
			e.check("tls/certificates", false, "%v", err)
			return
		}
	}
	// The backend (OS user postgres) reads the client key: a throw-away one.
	os.Chmod(p("client.key"), 0o644)
	e.check("tls/certificates", true, "CA, server (IP:127.0.0.1), client, and a second CA")

	conf := `[{server, [{certfile, "` + p("server.pem") + `"}, {keyfile, "` + p("server.key") + `"},
   {cacertfile, "` + p("ca.pem") + `"}, {verify, verify_peer}, {fail_if_no_peer_cert, true}]},
 {client, [{certfile, "` + p("client.pem") + `"}, {keyfile, "` + p("client.key") + `"},
   {cacertfile, "` + p("ca.pem") + `"}, {verify, verify_peer}]}].
`
	os.WriteFile(p("ssl_dist.conf"), []byte(conf), 0o644)
	// The node's cookie comes from $HOME/.erlang.cookie, not its command line.
	e.tlsCookie = "plerl-sec-tls-" + randomHex(12)
	home := p("home")
	os.MkdirAll(home, 0o700)
	os.WriteFile(filepath.Join(home, ".erlang.cookie"), []byte(e.tlsCookie), 0o400)
	alive := "plerl_sec_tls_" + randomHex(4)
	node := alive + "@127.0.0.1"
	cmd := exec.Command(e.erl, "-noshell", "-name", node, "-proto_dist", "inet_tls",
		"-ssl_dist_optfile", p("ssl_dist.conf"), "-start_epmd", "false",
		"-kernel", "inet_dist_use_interface", "{127,0,0,1}")
	cmd.Env = append(os.Environ(), "HOME="+home, "ERL_EPMD_ADDRESS=127.0.0.1")
	stdin, _ := cmd.StdinPipe() // the node stays up while stdin is open
	var nodeOut strings.Builder
	cmd.Stdout, cmd.Stderr = &nodeOut, &nodeOut
	if err := cmd.Start(); err != nil {
		e.check("tls/node", false, "%v", err)
		return
	}
	defer func() {
		stdin.Close()
		cmd.Process.Kill() // our own child, by PID
		cmd.Wait()
	}()
	if !epmdKnows(alive, 15*time.Second) {
		e.check("tls/node", false, "%s did not register with epmd: %s", node, nodeOut.String())
		return
	}
	e.check("tls/node", true, "%s with -proto_dist inet_tls, client certificates required", node)

	// Servers: the superuser sets the file options (a non-superuser cannot:
	// regression area security). Cookies go in with logging off.
	mk := func(name, opts string) string {
		return "CREATE SERVER " + name + " FOREIGN DATA WRAPPER plerl OPTIONS (node '" + node + "', " + opts + ");\n" +
			"CREATE USER MAPPING FOR sec_alice SERVER " + name + " OPTIONS (cookie :'tls');\n" +
			"GRANT USAGE ON FOREIGN SERVER " + name + " TO sec_alice;\n" +
			"INSERT INTO plerl.allow VALUES ('" + name + "', NULL, 'erlang', 'node', 0);\n"
	}
	files := "tls_ca '" + p("ca.pem") + "', tls_cert '" + p("client.pem") + "', tls_key '" + p("client.key") + "'"
	setup := "\\getenv tls PLERL_SEC_TLS_COOKIE\nSET log_statement = 'none';\n" +
		mk("tls_good", "tls 'on', "+files+", tls_server_name '127.0.0.1'") +
		mk("tls_other_ca", "tls 'on', tls_ca '"+p("other.pem")+"', tls_cert '"+p("client.pem")+"', tls_key '"+p("client.key")+"', tls_server_name '127.0.0.1'") +
		mk("tls_no_cert", "tls 'on', tls_ca '"+p("ca.pem")+"', tls_server_name '127.0.0.1'") +
		mk("tls_bad_name", "tls 'on', "+files+", tls_server_name 'wrong.example'") +
		mk("tls_plain", "tls 'off'") +
		mk("tls_no_file", "tls 'on', tls_ca '"+p("missing.pem")+"', tls_server_name '127.0.0.1'") +
		"RESET log_statement;\nSELECT 'tls servers made';\n"
	out, _ := e.psqlRunEnv("postgres", setup, "PLERL_SEC_TLS_COOKIE="+e.tlsCookie)
	e.check("tls/servers", strings.Contains(out, "tls servers made") && !strings.Contains(out, "ERROR"), "%s", firstError(out))

	st, _, out := e.timed("sec_alice", "SELECT erlang_call('tls_good', 'erlang', 'node', '[]') = jsonb_build_object('$atom', '"+node+"') AS over_tls;")
	e.check("tls/call over TLS (CA, client certificate, server name)", st == okState && strings.Contains(out, " t"), "%s %s", st, firstError(out))
	st, _, out = e.timed("sec_alice", "DO LANGUAGE plerl $$ assert(tostring(erlang.call('tls_good', 'erlang', 'node')) == '"+node+"') $$;")
	e.check("tls/call over TLS from Lua", st == okState, "%s %s", st, firstError(out))

	for _, c := range []struct{ server, what, mention string }{
		{"tls_other_ca", "a CA that did not sign the node's certificate", "certificate"},
		{"tls_no_cert", "no client certificate", ""},
		{"tls_bad_name", "a server name the certificate does not carry", "certificate"},
		{"tls_plain", "plain TCP to a TLS node", ""},
		{"tls_no_file", "a tls_ca file that does not exist", "tls_ca"},
	} {
		st, _, out := e.timed("sec_alice", "\\set VERBOSITY verbose\nSELECT erlang_call('"+c.server+"', 'erlang', 'node', '[]');")
		msg := firstError(out)
		good := st != okState && st != "" && strings.HasPrefix(st, "08") || st == "28000" || st == "58P01"
		if c.mention != "" && !strings.Contains(msg, c.mention) {
			good = false
		}
		e.check("tls/refused: "+c.what, good && len(e.secretsIn(out)) == 0, "%s: %s", st, trim(msg, 240))
	}
}

// epmdKnows waits until epmd on 127.0.0.1 lists alive.
func epmdKnows(alive string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:4369", time.Second); err == nil {
			c.Write([]byte{0, 1, 110}) // NAMES_REQ
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				if strings.Contains(sc.Text(), "name "+alive+" ") {
					c.Close()
					return true
				}
			}
			c.Close()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}
