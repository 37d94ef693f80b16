package linearize_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/internal/etcdtest"
	"github.com/duohuo/duohuo/lock/linearize"
)

// cluster is the one real 3-member etcd cluster, each member behind fault
// proxies, shared by every test of the package: runs use fresh keys and the
// faults heal before a run ends, so runs do not see each other.
var cluster *etcdtest.Proxied

// The proxied cluster gives Run the control server faults need.
var _ linearize.Cluster = (*etcdtest.Proxied)(nil)

// clusterEnv is the environment of a run against the shared cluster, with
// its control.
func clusterEnv() linearize.Env {
	return linearize.Env{Endpoints: cluster.Endpoints(), Cluster: cluster}
}

// clientEnv, set in a child's environment, makes the test binary a client
// process of a run (ServeClient) instead of running the tests.
const clientEnv = "LINEARIZE_TEST_CLIENT_PROCESS"

// clientCommand re-runs this test binary as one client process.
func clientCommand() *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), clientEnv+"=1")
	return cmd
}

func TestMain(m *testing.M) {
	if os.Getenv(clientEnv) == "1" {
		if err := linearize.ServeClient(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "linearize-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cluster, err = etcdtest.StartProxied(etcdtest.Config{Members: 3, Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	cluster.Close()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(etcdtest.LeakOptions()...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
