package replica_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/replica"
	"github.com/duohuo/duohuo/replica/replicatest"
)

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// find reports whether a record at level whose message contains s was
// logged.
func (l *logRecorder) find(level slog.Level, s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if r.Level == level && strings.Contains(r.Message, s) {
			return true
		}
	}
	return false
}

// A site whose key differs is reported: the joining site sees the peer as
// key_refused in its status (and the HTTP status), the joined one logs the
// decrypt failure at error level and counts it.
func TestKeyMismatchIsReported(t *testing.T) {
	p := replicatest.NewPartition()
	open := func(name, key string, join []string, rec *logRecorder, reg *prometheus.Registry) (*replica.Store, string) {
		tr, err := replicatest.NewTransport(p)
		if err != nil {
			t.Fatal(err)
		}
		s, err := replica.Open(context.Background(), replica.Config{
			Name: name, Dir: t.TempDir(), BindAddr: "127.0.0.1", Transport: tr, Join: join,
			SecretKey: []byte(key), Network: replica.NetworkLocal,
			Logger: slog.New(rec), Registerer: reg,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s, tr.Addr()
	}
	recA, regA := &logRecorder{}, prometheus.NewRegistry()
	_, addrA := open("a", "0123456789abcdef", nil, recA, regA)
	b, _ := open("b", "fedcba9876543210", []string{addrA}, &logRecorder{}, prometheus.NewRegistry())

	waitUntil(t, "b to report a as refusing its key", 30*time.Second, func() bool { return peerState(b, addrA) == replica.PeerKeyRefused })
	waitUntil(t, "a to log the decrypt failure at error level", 30*time.Second, func() bool {
		return recA.find(slog.LevelError, "no installed keys could decrypt")
	})
	if got := metric(t, regA, "duohuo_replica_decrypt_failures_total"); got < 1 {
		t.Errorf("a's duohuo_replica_decrypt_failures_total = %v, want at least 1", got)
	}
	if len(b.Members()) != 1 {
		t.Errorf("b's members = %v, want only itself", b.Members())
	}

	srv := httptest.NewServer(replica.Handler(b))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/kv/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st replica.StatusJSON
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if len(st.Peers) != 1 || st.Peers[0].Addr != addrA || st.Peers[0].State != replica.PeerKeyRefused || !st.Peers[0].Configured || st.Peers[0].Error == "" {
		t.Errorf("status peers = %+v, want %s configured, key_refused, with the error", st.Peers, addrA)
	}
}

// A member that stops answering is suspected, then declared dead: both are
// logged at info level (memberlist's [INFO] lines) and counted.
func TestSuspectAndDeadAreCountedAndLogged(t *testing.T) {
	rec := &logRecorder{}
	c := &cluster{t: t, p: replicatest.NewPartition()}
	t.Cleanup(c.close)
	c.add(t, func(cfg *replica.Config) { cfg.Logger = slog.New(rec) })
	c.add(t)
	c.waitFor("both to see each other", 20*time.Second, func() bool { return len(c.stores[0].Members()) == 2 })
	c.p.Blackhole(c.addrs[0], c.addrs[1])
	waitUntil(t, "site-0 to declare site-1 dead", 60*time.Second, func() bool { return len(c.stores[0].Members()) == 1 })
	for _, ev := range []string{"suspect", "dead"} {
		if got := c.counterSumOf(0, "duohuo_replica_member_events_total", map[string]string{"event": ev}); got < 1 {
			t.Errorf("member_events_total{event=%q} = %v, want at least 1", ev, got)
		}
	}
	if !rec.find(slog.LevelInfo, "Suspect site-1 has failed") || !rec.find(slog.LevelInfo, "Marking site-1 as failed") {
		t.Error("the suspicion and the death of site-1 are not logged at info level")
	}
	if !rec.find(slog.LevelDebug, "memberlist:") {
		t.Error("memberlist's [DEBUG] lines are not logged at debug level")
	}
}

func TestTimingsAreValidated(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*replica.Config)
		want string
	}{
		{"probe timeout not below the interval", func(c *replica.Config) { c.ProbeInterval, c.ProbeTimeout = time.Second, time.Second }, "ProbeTimeout"},
		{"negative suspicion multiplier", func(c *replica.Config) { c.SuspicionMult = -1 }, "SuspicionMult"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := replica.Config{Name: "a", Dir: t.TempDir()}
			tt.edit(&cfg)
			if s, err := replica.Open(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				if s != nil {
					s.Close()
				}
				t.Errorf("Open = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}
