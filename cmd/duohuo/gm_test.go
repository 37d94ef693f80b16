package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emmansun/gmsm/smx509"

	"github.com/duohuo/duohuo/gm/tlcp"
)

// TestGMCertThenClient: gm cert makes files a TLCP server can use, with
// private keys of mode 0600, and gm client reaches that server with the CA.
func TestGMCertThenClient(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gm")
	var out, errb bytes.Buffer
	if code := run([]string{"gm", "cert", "--dir", dir, "127.0.0.1", "localhost"}, &out, &errb); code != exitOK {
		t.Fatalf("gm cert: exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"Made the CA", "sign_cert_file: " + dir, "enc_key_file: " + dir, "duohuo gm client --ca"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("gm cert output lacks %q:\n%s", want, out.String())
		}
	}
	for _, f := range []string{"ca.key", "127.0.0.1-sign.key", "127.0.0.1-enc.key"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	// A second run reuses the CA, refuses to overwrite, and makes a
	// client's pair beside.
	out.Reset()
	if code := run([]string{"gm", "cert", "--dir", dir, "127.0.0.1"}, &out, &errb); code == exitOK {
		t.Error("gm cert over existing files succeeded")
	}
	if code := run([]string{"gm", "cert", "--client", "--dir", dir, "ops"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "Used the CA") {
		t.Errorf("gm cert --client: exit %d, %s %s", code, out.String(), errb.String())
	}

	// A TLCP HTTPS server with those files; it requires the client's
	// certificate, so that gm client's --cert is tested too.
	load := func(name string) tlcp.Certificate {
		c, err := tlcp.LoadX509KeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	pool := smx509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Method+" "+r.Header.Get("X-Test"))
		w.Write(append([]byte("got "), b...))
	})}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		srv.Serve(tlcp.NewListener(ln, &tlcp.Config{
			Certificates: []tlcp.Certificate{load("127.0.0.1-sign"), load("127.0.0.1-enc")},
			ClientAuth:   tlcp.RequireAndVerifyClientCert, ClientCAs: pool,
		}))
	}()
	defer func() { srv.Close(); wg.Wait() }()
	url := "https://" + ln.Addr().String() + "/x"
	client := []string{"--cert", filepath.Join(dir, "ops-client-sign.crt"), "--key", filepath.Join(dir, "ops-client-sign.key"),
		"--enc-cert", filepath.Join(dir, "ops-client-enc.crt"), "--enc-key", filepath.Join(dir, "ops-client-enc.key")}
	for _, suite := range []string{"ECC_SM4_GCM_SM3", "ECDHE_SM4_CBC_SM3"} {
		out.Reset()
		errb.Reset()
		args := append([]string{"gm", "client", "-v", "-i", "--ca", filepath.Join(dir, "ca.crt"), "--suites", suite,
			"-X", "POST", "-d", "hello", "-H", "X-Test: yes"}, client...)
		if code := run(append(args, url), &out, &errb); code != exitOK {
			t.Fatalf("gm client %s: exit %d: %s", suite, code, errb.String())
		}
		if !strings.Contains(out.String(), "200 OK") || !strings.Contains(out.String(), "X-Seen: POST yes") || !strings.HasSuffix(out.String(), "got hello") {
			t.Errorf("gm client %s printed:\n%s", suite, out.String())
		}
		if !strings.Contains(errb.String(), "TLCP 0x0101 "+suite) {
			t.Errorf("gm client -v %s said:\n%s", suite, errb.String())
		}
	}
	// Without the CA it refuses the server.
	other := filepath.Join(t.TempDir(), "other")
	run([]string{"gm", "cert", "--dir", other, "x"}, io.Discard, io.Discard)
	if code := run(append([]string{"gm", "client", "--ca", filepath.Join(other, "ca.crt")}, append(client, url)...), &out, &errb); code != exitRuntime {
		t.Errorf("gm client with another CA: exit %d, want %d", code, exitRuntime)
	}
	if code := run([]string{"gm", "client", "http://x/"}, &out, &errb); code != exitUsage {
		t.Errorf("gm client http URL: exit %d, want %d", code, exitUsage)
	}
}
