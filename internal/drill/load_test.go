package drill

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func instant(context.Context) Result { return Result{Status: 200, By: "ctyun-1"} }

func TestLoadSchedulesEveryRequestOnItsTick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		rec, err := Load{Rate: 100, Duration: 2 * time.Second}.Run(t.Context(), instant)
		if err != nil {
			t.Fatal(err)
		}
		s := rec.Samples()
		if len(s) != 200 {
			t.Fatalf("Run(100 rps, 2s) scheduled %d requests, want 200", len(s))
		}
		for i, x := range s {
			if want := time.Duration(i) * 10 * time.Millisecond; x.At != want || x.Latency != 0 || !x.OK() {
				t.Fatalf("sample %d = %+v, want at %v, latency 0, ok", i, x, want)
			}
		}
		if got, want := time.Since(start), 1990*time.Millisecond; got != want {
			t.Errorf("Run took %v, want %v (the last tick)", got, want)
		}
		if p := rec.Progress(); p.Sent != 200 || p.Done != 200 || p.OK != 200 || p.Dropped != 0 {
			t.Errorf("Progress() = %+v, want 200 sent, done and ok", p)
		}
	})
}

// A server that answers one request at a time in 50ms, loaded at 100 rps,
// builds a queue: request i ends at (i+1)×50ms while it was due at i×10ms.
// A closed-loop client would report 50ms for every request.
func TestLatencyCountsTheQueueFromTheScheduledTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slot := make(chan struct{}, 1) // a channel, not a mutex: synctest sees it block
		serial := func(ctx context.Context) Result {
			slot <- struct{}{}
			defer func() { <-slot }()
			time.Sleep(50 * time.Millisecond)
			return Result{Status: 200}
		}
		rec, err := Load{Rate: 100, Duration: 200 * time.Millisecond}.Run(t.Context(), serial)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range rec.Samples() {
			want := time.Duration(i+1)*50*time.Millisecond - time.Duration(i)*10*time.Millisecond
			if x.Latency != want {
				t.Errorf("sample %d latency = %v, want %v", i, x.Latency, want)
			}
		}
	})
}

func TestRequestsBeyondMaxInFlightAreDroppedNotDelayed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stuck := func(ctx context.Context) Result {
			<-ctx.Done()
			return Result{Err: ctx.Err()}
		}
		rec, err := Load{Rate: 10, Duration: time.Second, MaxInFlight: 2, Timeout: 5 * time.Second}.Run(t.Context(), stuck)
		if err != nil {
			t.Fatal(err)
		}
		s := Summarize(rec.Samples())
		if s.Requests != 10 || s.Dropped != 8 || s.OK != 0 || s.Failures["error"] != 2 {
			t.Errorf("Summarize = %+v, want 10 requests, 8 dropped, 2 errors", s)
		}
		for i, x := range rec.Samples()[:2] {
			if want := 5 * time.Second; x.Latency != want {
				t.Errorf("sample %d latency = %v, want the timeout counted from its tick, %v", i, x.Latency, want)
			}
		}
	})
}

func TestCanceledLoadDropsTheRestAndReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var n atomic.Int64
		target := func(context.Context) Result {
			if n.Add(1) == 50 {
				cancel()
			}
			return Result{Status: 200}
		}
		start := time.Now()
		rec, err := Load{Rate: 100, Duration: 10 * time.Second}.Run(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el > time.Second {
			t.Errorf("Run returned %v after start, want right after the cancel at 490ms", el)
		}
		s := Summarize(rec.Samples())
		if s.OK != 50 || s.Dropped != 950 {
			t.Errorf("Summarize = ok %d, dropped %d; want 50 and 950", s.OK, s.Dropped)
		}
	})
}

func TestLoadRejectsWhatItCannotRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		load Load
	}{
		{"zero rate", Load{Duration: time.Second}},
		{"negative rate", Load{Rate: -1, Duration: time.Second}},
		{"zero duration", Load{Rate: 10}},
		{"negative max in flight", Load{Rate: 10, Duration: time.Second, MaxInFlight: -1}},
		{"negative timeout", Load{Rate: 10, Duration: time.Second, Timeout: -1}},
		{"more samples than the bound", Load{Rate: 1_000_000, Duration: time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.load.Run(t.Context(), instant); !errors.Is(err, ErrBadLoad) {
				t.Errorf("Run(%+v) error = %v, want ErrBadLoad", tc.load, err)
			}
		})
	}
}

// Over a real loopback server: the rate holds and the run lasts as long as
// it should.
func TestHTTPLoadKeepsItsRate(t *testing.T) {
	var arrived atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		w.Header().Set("X-Served-By", "ecloud-2")
	}))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 100}
	defer tr.CloseIdleConnections()
	start := time.Now()
	rec, err := Load{Rate: 200, Duration: time.Second}.Run(t.Context(), HTTPGet(&http.Client{Transport: tr}, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	s := Summarize(rec.Samples())
	if s.Requests != 200 || s.OK != 200 || arrived.Load() != 200 || s.ByCloud["ecloud"] != 200 {
		t.Errorf("200 rps for 1s: %d requests, %d ok, %d arrived, by cloud %v; want 200 each from ecloud", s.Requests, s.OK, arrived.Load(), s.ByCloud)
	}
	// The last request is due at 995ms. The two shared cores have been
	// seen to stall a process for over a second, hence the generous bound;
	// a generator that waited for answers (closed loop) or drifted would
	// still be caught by the lower one or by the count.
	if el < 995*time.Millisecond || el > 5*time.Second {
		t.Errorf("200 requests at 200 rps took %v, want between 995ms and 5s", el)
	}
}

// Over a real loopback server that stalls: every request due during the
// stall is charged the time it waited, not only the one in service.
func TestHTTPLoadChargesAStallToEveryRequestDueDuringIt(t *testing.T) {
	gate := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex // the server answers one request at a time
	var waiting atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		waiting.Add(1)
		mu.Lock()
		defer mu.Unlock()
		<-gate
	}))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 100}
	defer tr.CloseIdleConnections()
	load := Load{Rate: 100, Duration: 500 * time.Millisecond, Start: time.Now()}
	var released time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		deadline := time.Now().Add(10 * time.Second)
		for waiting.Load() < 30 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond) // polling the server's counter
		}
		released = time.Since(load.Start)
		once.Do(func() { close(gate) })
	}()
	rec, err := load.Run(t.Context(), HTTPGet(&http.Client{Transport: tr}, srv.URL))
	<-done
	if err != nil {
		t.Fatal(err)
	}
	charged := 0
	for i, x := range rec.Samples() {
		if x.At >= released {
			continue
		}
		if want := released - x.At; x.Latency < want {
			t.Errorf("sample %d due at %v: latency %v, want at least %v (the stall ended at %v)", i, x.At, x.Latency, want, released)
		}
		charged++
	}
	if charged < 30 {
		t.Errorf("%d requests were due during the stall, want at least 30", charged)
	}
}
