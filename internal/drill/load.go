package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Result is what one request of the load came back with.
type Result struct {
	// Status is the HTTP status, 0 when no response came (Err is set).
	Status int
	// By names the instance that answered ("" if unknown), from the demo
	// backends' X-Served-By header.
	By string
	// Err is the transport error, if any.
	Err error
}

// OK reports whether the request succeeded: a 2xx or 3xx status.
func (r Result) OK() bool { return r.Err == nil && r.Status >= 200 && r.Status < 400 }

// Target sends one request and reports its result. It is called from many
// goroutines at once and must be safe for concurrent use; it must return
// when ctx ends.
type Target func(ctx context.Context) Result

// HTTPGet returns a Target that sends GET url with c and reads the whole
// body, so that latency covers the full response.
func HTTPGet(c *http.Client, url string) Target {
	return func(ctx context.Context) Result {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return Result{Err: err}
		}
		resp, err := c.Do(req)
		if err != nil {
			return Result{Err: err}
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return Result{Status: resp.StatusCode, By: resp.Header.Get("X-Served-By"), Err: err}
	}
}

// Sample is one scheduled request of a load run.
type Sample struct {
	// At is when the request was scheduled, from the start of the run.
	At time.Duration
	// Latency runs from the scheduled time (not the time it was actually
	// sent) to the end of the response, so a stalled generator or server
	// cannot hide latency (coordinated omission, Gil Tene). -1 for a request
	// that was dropped.
	Latency time.Duration
	// Status is the HTTP status, 0 when none came.
	Status int
	// By names the instance that answered, if known.
	By string
	// Dropped is true when the request was not sent because MaxInFlight
	// requests were already waiting; it counts as a failure.
	Dropped bool
	// Err is the transport error's text, if any.
	Err string
}

// OK reports whether the sample is a success.
func (s Sample) OK() bool { return !s.Dropped && s.Err == "" && s.Status >= 200 && s.Status < 400 }

// ErrBadLoad is returned for a Load that cannot run.
var ErrBadLoad = errors.New("drill: bad load")

// Load is an open-loop, constant-rate load: request i is scheduled at
// Start + i/Rate whatever happened to the earlier ones, each is sent from
// its own goroutine, and its latency is measured from its scheduled time.
// The zero value is not usable: Rate and Duration are required. A Load is a
// value: several goroutines may Run the same one at once.
type Load struct {
	// Rate is the number of requests per second. Required.
	Rate int
	// Duration is how long requests are scheduled; Rate × Duration requests
	// are scheduled in all. Required.
	Duration time.Duration
	// MaxInFlight bounds the requests waiting for an answer; a request
	// scheduled while that many are in flight is dropped (recorded as a
	// failed sample) rather than sent late. Default 1000.
	MaxInFlight int
	// Timeout bounds each request. Default 10s.
	Timeout time.Duration
	// Start is when the first request is scheduled. Zero means now; a time
	// in the future lets the caller line other events up with the load.
	Start time.Time
}

func (l Load) check() error {
	switch {
	case l.Rate <= 0:
		return fmt.Errorf("%w: rate %d: must be positive", ErrBadLoad, l.Rate)
	case l.Duration <= 0:
		return fmt.Errorf("%w: duration %v: must be positive", ErrBadLoad, l.Duration)
	case l.MaxInFlight < 0:
		return fmt.Errorf("%w: max in flight %d: must not be negative", ErrBadLoad, l.MaxInFlight)
	case l.Timeout < 0:
		return fmt.Errorf("%w: timeout %v: must not be negative", ErrBadLoad, l.Timeout)
	}
	if n := int64(l.Rate) * int64(l.Duration/time.Millisecond) / 1000; n > maxRequests {
		return fmt.Errorf("%w: %d requests per second for %v is %d requests, more than %d", ErrBadLoad, l.Rate, l.Duration, n, maxRequests)
	}
	return nil
}

// maxRequests bounds one run's samples (about 100 bytes each).
const maxRequests = 10_000_000

// Count returns the number of requests the load schedules.
func (l Load) Count() int {
	return int(int64(l.Duration) * int64(l.Rate) / int64(time.Second))
}

// Recording is a load run in progress or done. Its methods are safe for
// concurrent use while the run goes on; Samples only once Run returned.
type Recording struct {
	start   time.Time
	samples []Sample // request i writes only samples[i]

	sent, done, ok, dropped atomic.Int64
	hist                    Histogram // latency of completed requests, for progress
}

// Start returns when the first request was scheduled.
func (r *Recording) Start() time.Time { return r.start }

// Samples returns one sample per scheduled request, in schedule order. Call
// it only after Run returned.
func (r *Recording) Samples() []Sample { return r.samples }

// Progress is a live view of a run.
type Progress struct {
	Sent, Done, OK, Dropped int64
	// P99 of the requests done so far (within 1/64 relative error).
	P99 time.Duration
}

// Progress returns the run's counters so far.
func (r *Recording) Progress() Progress {
	return Progress{
		Sent: r.sent.Load(), Done: r.done.Load(), OK: r.ok.Load(), Dropped: r.dropped.Load(),
		P99: r.hist.Quantile(0.99),
	}
}

// NewRecording prepares a run of l, which RunInto fills. Use it with
// RunInto when another goroutine wants to watch Progress; otherwise call
// l.Run.
func NewRecording(l Load) (*Recording, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	start := l.Start
	if start.IsZero() {
		start = time.Now()
	}
	return &Recording{start: start, samples: make([]Sample, l.Count())}, nil
}

// Run runs l against t and returns the recording. It blocks until every
// request scheduled has finished (at most Duration + Timeout), or ctx
// ends: requests not yet scheduled are then recorded as dropped and those
// in flight are canceled.
func (l Load) Run(ctx context.Context, t Target) (*Recording, error) {
	rec, err := NewRecording(l)
	if err != nil {
		return nil, err
	}
	l.RunInto(ctx, t, rec)
	return rec, nil
}

// RunInto is Run with a Recording made by NewRecording for the same Load.
func (l Load) RunInto(ctx context.Context, t Target, rec *Recording) {
	maxIn := l.MaxInFlight
	if maxIn == 0 {
		maxIn = 1000
	}
	timeout := l.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	sem := make(chan struct{}, maxIn)
	var wg sync.WaitGroup
	defer wg.Wait()
	n := len(rec.samples)
	// The schedule is computed from the start, not by adding intervals, so
	// that timer lateness does not accumulate into a lower rate.
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i := 0; i < n; i++ {
		at := time.Duration(int64(i) * int64(time.Second) / int64(l.Rate))
		due := rec.start.Add(at)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			for j := i; j < n; j++ {
				rec.samples[j] = Sample{At: time.Duration(int64(j) * int64(time.Second) / int64(l.Rate)), Latency: -1, Dropped: true}
				rec.dropped.Add(1)
			}
			return
		}
		select {
		case sem <- struct{}{}:
		default:
			rec.samples[i] = Sample{At: at, Latency: -1, Dropped: true}
			rec.dropped.Add(1)
			continue
		}
		rec.sent.Add(1)
		wg.Add(1)
		go func(i int, at time.Duration, due time.Time) {
			defer wg.Done()
			defer func() { <-sem }()
			rctx, cancel := context.WithDeadline(ctx, due.Add(timeout))
			res := t(rctx)
			cancel()
			lat := time.Since(due)
			s := Sample{At: at, Latency: lat, Status: res.Status, By: res.By}
			if res.Err != nil {
				s.Err = res.Err.Error()
			}
			rec.samples[i] = s
			rec.hist.Record(lat)
			if s.OK() {
				rec.ok.Add(1)
			}
			rec.done.Add(1)
		}(i, at, due)
	}
}
