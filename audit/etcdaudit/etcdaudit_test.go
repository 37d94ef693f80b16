package etcdaudit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/audit"
	"github.com/duohuo/duohuo/audit/etcdaudit"
	"github.com/duohuo/duohuo/fault/tcpproxy"
	"github.com/duohuo/duohuo/internal/etcdtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, etcdtest.LeakOptions()...) }

// env is a real one-member embedded etcd behind a fault proxy, a real
// audit log in a temp dir, and a client with the audit interceptors.
type env struct {
	cli   *clientv3.Client
	log   *audit.Log
	path  string
	proxy *tcpproxy.Proxy
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{path: filepath.Join(t.TempDir(), "etcd-audit.jsonl")}
	cluster := etcdtest.New(t, etcdtest.Config{
		ClientFront: func(_ int, backend string) (string, error) {
			p, err := tcpproxy.Listen("127.0.0.1:0", backend)
			if err != nil {
				return "", err
			}
			e.proxy = p
			return p.Addr().String(), nil
		},
	})
	t.Cleanup(func() { e.proxy.Close() }) // cleanups run last-first: client, proxy, then the cluster
	var err error
	e.log, err = audit.Open(e.path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := etcdaudit.New(etcdaudit.Config{Sink: e.log, Principal: "orders-svc"})
	if err != nil {
		t.Fatal(err)
	}
	e.cli, err = clientv3.New(clientv3.Config{
		Endpoints:   cluster.Endpoints(),
		DialTimeout: 5 * time.Second,
		DialOptions: a.DialOptions(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.cli.Close() })
	return e
}

// records closes the client and the log, verifies the chain and returns
// the records.
func (e *env) records(t *testing.T) []audit.Record {
	t.Helper()
	e.cli.Close()
	if err := e.log.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(e.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := audit.Verify(f, audit.VerifyOptions{}); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	f.Seek(0, 0)
	r := audit.NewReader(f, nil)
	var recs []audit.Record
	for {
		rec, _, err := r.Next()
		if err != nil {
			break
		}
		recs = append(recs, rec)
	}
	return recs
}

func find(recs []audit.Record, method, event string) []audit.Record {
	var out []audit.Record
	for _, r := range recs {
		if r.Method == method && r.Event == event {
			out = append(out, r)
		}
	}
	return out
}

func TestRecordsCallsAgainstEmbeddedEtcd(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	put, err := e.cli.Put(ctx, "/config/db/password", "hunter2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.cli.Get(etcdaudit.WithPrincipal(ctx, "alice"), "/config/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cli.Txn(ctx).If(clientv3.Compare(clientv3.Version("/lock/a"), "=", 0)).
		Then(clientv3.OpPut("/lock/a", "x"), clientv3.OpPut("/lock/token", "y")).Commit(); err != nil {
		t.Fatal(err)
	}
	lease, err := e.cli.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.cli.Revoke(ctx, 999999); err == nil {
		t.Fatal("Revoke of an unknown lease succeeded")
	}
	wctx, wcancel := context.WithCancel(ctx)
	wch := e.cli.Watch(wctx, "/config/", clientv3.WithPrefix())
	e.cli.Put(ctx, "/config/x", "1")
	<-wch
	wcancel()

	recs := e.records(t)
	wantOne := func(method string) audit.Record {
		t.Helper()
		got := find(recs, method, "")
		if len(got) == 0 {
			t.Fatalf("no record of %s in %+v", method, recs)
		}
		return got[0]
	}
	p := wantOne("/etcdserverpb.KV/Put")
	if p.Key != "/config/db/[secret]" || p.Principal != "orders-svc" || p.Outcome != "OK" || p.Revision != put.Header.Revision || p.LatencyMicros <= 0 {
		t.Errorf("Put record = %+v, want redacted key, principal orders-svc, OK, revision %d, a latency", p, put.Header.Revision)
	}
	g := wantOne("/etcdserverpb.KV/Range")
	if g.Key != "/config/" || g.RangeEnd != "/config0" || g.Principal != "alice" {
		t.Errorf("Range record = %+v, want key /config/ .. /config0 by alice", g)
	}
	tx := wantOne("/etcdserverpb.KV/Txn")
	if want := []string{"/lock/a", "/lock/[secret]"}; !slices.Equal(tx.Keys, want) {
		t.Errorf("Txn keys = %q, want %q", tx.Keys, want)
	}
	if gr := wantOne("/etcdserverpb.Lease/LeaseGrant"); gr.Lease != int64(lease.ID) {
		t.Errorf("LeaseGrant lease = %d, want %d", gr.Lease, lease.ID)
	}
	rv := wantOne("/etcdserverpb.Lease/LeaseRevoke")
	if rv.Outcome != "NotFound" || rv.Lease != 999999 || rv.Error == "" {
		t.Errorf("LeaseRevoke record = %+v, want NotFound for lease 999999 with the error", rv)
	}
	if opens := find(recs, "/etcdserverpb.Watch/Watch", "open"); len(opens) == 0 || opens[0].Outcome != "OK" {
		t.Errorf("watch open records = %+v, want one OK", opens)
	}
	if sends := find(recs, "/etcdserverpb.Watch/Watch", "send"); len(sends) != 1 || sends[0].Key != "/config/" {
		t.Errorf("watch create records = %+v, want one for /config/", sends)
	}
	for _, r := range recs {
		if r.Key == "/config/db/password" || slices.Contains(r.Keys, "/lock/token") {
			t.Errorf("record %d leaks a secret key: %+v", r.Seq, r)
		}
	}
}

func TestRecordsLatencyAndFailuresFromTheNetwork(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.cli.Put(ctx, "/warm", "up"); err != nil {
		t.Fatal(err)
	}
	const delay = 100 * time.Millisecond
	if err := e.proxy.Set("slow", tcpproxy.Downstream, tcpproxy.Latency{Delay: delay}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cli.Get(ctx, "/slow"); err != nil {
		t.Fatal(err)
	}
	e.proxy.Clear()
	if err := e.proxy.Set("cut", tcpproxy.Both, tcpproxy.Blackhole{}); err != nil {
		t.Fatal(err)
	}
	short, scancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := e.cli.Get(short, "/cut")
	scancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get through a blackhole = %v, want DeadlineExceeded", err)
	}
	e.proxy.Clear()

	recs := find(e.records(t), "/etcdserverpb.KV/Range", "")
	var slow, cut *audit.Record
	for i := range recs {
		switch recs[i].Key {
		case "/slow":
			slow = &recs[i]
		case "/cut":
			cut = &recs[i]
		}
	}
	if slow == nil || slow.LatencyMicros < delay.Microseconds() || slow.Outcome != "OK" {
		t.Errorf("Range /slow record = %+v, want OK with latency >= %v", slow, delay)
	}
	if cut == nil || cut.Outcome != "DeadlineExceeded" {
		t.Errorf("Range /cut record = %+v, want DeadlineExceeded", cut)
	}
}

func TestNewRequiresASink(t *testing.T) {
	if _, err := etcdaudit.New(etcdaudit.Config{}); !errors.Is(err, etcdaudit.ErrNoSink) {
		t.Errorf("New without a sink = %v, want ErrNoSink", err)
	}
}
