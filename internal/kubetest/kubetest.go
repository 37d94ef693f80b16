// Package kubetest runs a real kube-apiserver for tests, on loopback, with
// its storage in an embedded etcd (internal/etcdtest). Nothing is faked:
// it is Kubernetes' own API server, built from k8s.io/kubernetes by the
// tool module in internal/tools/kube-apiserver:
//
//	cd internal/tools/kube-apiserver && go build -o ~/go/bin/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
//
// No controller runs beside it (no controller manager, no scheduler, no
// kubelet): a test creates the objects a controller would, such as
// EndpointSlices, itself.
package kubetest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/duohuo/duohuo/internal/etcdtest"
	"github.com/duohuo/duohuo/internal/testexec"
)

// Env names the kube-apiserver binary; if unset, kube-apiserver on $PATH.
const Env = "DUOHUO_KUBE_APISERVER"

// Server is a running kube-apiserver.
type Server struct {
	// URL is https://127.0.0.1:port.
	URL string
	// Token is a bearer token of a cluster administrator (system:masters).
	Token string
	// Kubeconfig is the path of a kubeconfig file for the administrator.
	Kubeconfig string
	dir        string
	tokens     string
	bin        string
	args       []string
	mu         sync.Mutex
	cmd        *exec.Cmd     // the running process, nil when stopped
	done       chan struct{} // closed when cmd has exited
	users      int
	starts     int
}

// User is a user the server knows by a bearer token, with no permission
// but those a test grants it (RBAC).
type User struct{ Name, Token string }

// Start starts a kube-apiserver that knows users besides its
// administrator, and waits until it is ready; t.Cleanup stops it. The test
// is skipped (or fails with DUOHUO_REQUIRE_TOOLS=1) when no kube-apiserver
// binary is installed.
func Start(t testing.TB, users ...User) *Server {
	t.Helper()
	bin := os.Getenv(Env)
	if bin == "" {
		bin = testexec.Tool(t, "kube-apiserver", "build it with: cd internal/tools/kube-apiserver && go build -o $(go env GOPATH)/bin/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver")
	}
	etcd := etcdtest.New(t, etcdtest.Config{})
	dir := t.TempDir()
	s := &Server{dir: dir, bin: bin, Token: "admin-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	s.tokens = filepath.Join(dir, "tokens.csv")
	lines := fmt.Appendf(nil, "%s,admin,admin,\"system:masters\"\n", s.Token)
	for _, u := range users {
		lines = fmt.Appendf(lines, "%s,%s,%s\n", u.Token, u.Name, u.Name)
	}
	if err := os.WriteFile(s.tokens, lines, 0o600); err != nil {
		t.Fatal(err)
	}
	key, pub := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if err := writeKeyPair(key, pub); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s.URL = "https://127.0.0.1:" + strconv.Itoa(port)
	s.args = []string{
		"--etcd-servers=" + etcd.Endpoints()[0],
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(dir, "certs"),
		"--token-auth-file=" + s.tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + pub,
		"--service-account-signing-key-file=" + key,
		"--service-cluster-ip-range=10.96.0.0/24",
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--logging-format=text",
		"-v=0",
	}
	t.Cleanup(s.stop)
	s.start(t)
	s.Kubeconfig = filepath.Join(dir, "admin.kubeconfig")
	if err := os.WriteFile(s.Kubeconfig, []byte(s.kubeconfig(s.Token, "default")), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// start runs the process and waits until it is ready.
func (s *Server) start(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	s.starts++
	logPath := filepath.Join(s.dir, "kube-apiserver."+strconv.Itoa(s.starts)+".log")
	s.mu.Unlock()
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		t.Fatalf("kube-apiserver: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = log.Close()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	if err := s.waitReady(done, 3*time.Minute); err != nil {
		tail, _ := os.ReadFile(logPath)
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		t.Fatalf("kube-apiserver did not become ready: %v\nits log ends with:\n%s", err, tail)
	}
}

// Stop stops the API server (its storage stays), to test an outage.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.stop()
}

// Restart starts the API server again after Stop, on the same address and
// storage, and waits until it is ready.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.stop()
	s.start(t)
}

func (s *Server) stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// REST returns a client configuration for the administrator.
func (s *Server) REST() *rest.Config {
	return &rest.Config{Host: s.URL, BearerToken: s.Token, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
}

// KubeconfigFor writes a kubeconfig file for token, with namespace as its
// context's namespace, and returns its path.
func (s *Server) KubeconfigFor(t testing.TB, token, namespace string) string {
	t.Helper()
	s.mu.Lock()
	s.users++
	p := filepath.Join(s.dir, "user"+strconv.Itoa(s.users)+".kubeconfig")
	s.mu.Unlock()
	if err := os.WriteFile(p, []byte(s.kubeconfig(token, namespace)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (s *Server) kubeconfig(token, namespace string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: user
  user:
    token: %s
contexts:
- name: test
  context:
    cluster: test
    user: user
    namespace: %s
current-context: test
`, s.URL, token, namespace)
}

// waitReady polls /readyz until it answers 200, the process exits (done)
// or limit passes.
func (s *Server) waitReady(done <-chan struct{}, limit time.Duration) error {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+s.Token)
		resp, err := c.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/readyz answered %s", resp.Status)
		}
		last = err
		select {
		case <-done:
			return fmt.Errorf("the process exited (last: %v)", last)
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func writeKeyPair(keyPath, pubPath string) error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
