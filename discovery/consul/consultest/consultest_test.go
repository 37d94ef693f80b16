package consultest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/discovery/consul/consultest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, srv *consultest.Server, query string) (uint64, int) {
	t.Helper()
	resp, err := http.Get(srv.URL() + "/v1/health/service/api" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var entries []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&entries); err != nil {
		t.Fatal(err)
	}
	idx, err := strconv.ParseUint(resp.Header.Get("X-Consul-Index"), 10, 64)
	if err != nil {
		t.Fatalf("X-Consul-Index: %v", err)
	}
	return idx, len(entries)
}

func TestBlockingQueries(t *testing.T) {
	srv := consultest.NewServer(consultest.Config{})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	srv.Set("api", consultest.Instance("10.0.0.1:80"))
	idx, n := get(t, srv, "")
	if idx < 1 || n != 1 {
		t.Fatalf("first read: index %d, %d entries; want index >= 1 and 1 entry", idx, n)
	}

	t.Run("a blocked query returns on a change", func(t *testing.T) {
		done := make(chan uint64, 1)
		go func() { i, _ := get(t, srv, "?index="+strconv.FormatUint(idx, 10)+"&wait=1m"); done <- i }()
		if err := srv.WaitBlocked(ctx, 1); err != nil {
			t.Fatal(err)
		}
		srv.Set("api", consultest.Instance("10.0.0.2:80"))
		if got := <-done; got <= idx {
			t.Errorf("index after a change = %d, want above %d", got, idx)
		}
	})
	t.Run("a wait that runs out answers the same index", func(t *testing.T) {
		cur := srv.Index()
		if got, _ := get(t, srv, "?index="+strconv.FormatUint(cur, 10)+"&wait=50ms"); got != cur {
			t.Errorf("index after the wait = %d, want %d", got, cur)
		}
	})
	t.Run("a restore answers a lower index", func(t *testing.T) {
		cur := srv.Index()
		done := make(chan uint64, 1)
		go func() { i, _ := get(t, srv, "?index="+strconv.FormatUint(cur, 10)+"&wait=1m"); done <- i }()
		if err := srv.WaitBlocked(ctx, 1); err != nil {
			t.Fatal(err)
		}
		srv.Restore(2)
		if got := <-done; got != 2 {
			t.Errorf("index after the restore = %d, want 2", got)
		}
	})
}

func TestACL(t *testing.T) {
	srv := consultest.NewServer(consultest.Config{Token: "t"})
	defer srv.Close()
	resp, err := http.Get(srv.URL() + "/v1/health/service/api")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("no token: %d, want 403", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/v1/health/service/api", nil)
	req.Header.Set("X-Consul-Token", "t")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("with the token: %d, want 200", resp.StatusCode)
	}
}
