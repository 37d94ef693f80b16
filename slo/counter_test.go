package slo_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duohuo/duohuo/slo"
)

// base is a minute boundary, so that the tables below read in whole
// buckets.
var base = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func TestCounterWindows(t *testing.T) {
	c := slo.NewCounter(0)
	// Minute m (0 to 119) has 100 events; minutes 110 to 119 have 10 bad
	// each, the others none.
	for m := range 120 {
		at := base.Add(time.Duration(m) * time.Minute)
		for i := range 100 {
			c.RecordAt(at.Add(time.Duration(i)*time.Millisecond), !(m >= 110 && i < 10))
		}
	}
	now := base.Add(119*time.Minute + 30*time.Second) // inside minute 119
	tests := []struct {
		name   string
		window time.Duration
		want   slo.Events
	}{
		// The window starts at the boundary d before the current
		// minute's: 5m is minutes 114 to 119, six of them.
		{"5m covers five whole minutes and the current one", 5 * time.Minute, slo.Events{Good: 540, Total: 600}},
		{"a window not in whole minutes is rounded up", 4*time.Minute + time.Second, slo.Events{Good: 540, Total: 600}},
		{"30m reaches back before the bad minutes", 30 * time.Minute, slo.Events{Good: 3000, Total: 3100}},
		{"1h", time.Hour, slo.Events{Good: 6000, Total: 6100}},
		{"6h holds everything counted", 6 * time.Hour, slo.Events{Good: 11900, Total: 12000}},
		{"3d uses the hourly ring and holds everything", 72 * time.Hour, slo.Events{Good: 11900, Total: 12000}},
	}
	for _, tt := range tests {
		if got := c.Window(now, tt.window); got != tt.want {
			t.Errorf("%s: Window(%v) = %+v, want %+v", tt.name, tt.window, got, tt.want)
		}
	}
	if got, want := c.Total(), (slo.Events{Good: 11900, Total: 12000}); got != want {
		t.Errorf("Total() = %+v, want %+v", got, want)
	}
}

// Windows slide: events older than a window leave it, also when nothing
// was recorded meanwhile, and the hourly ring holds 30 days.
func TestCounterSlides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := slo.NewCounter(30 * 24 * time.Hour)
		for range 10 {
			c.Record(false)
		}
		time.Sleep(10 * time.Minute)
		if got := c.Window(time.Now(), 5*time.Minute); got.Total != 0 {
			t.Errorf("10m after the events, Window(5m) = %+v, want none", got)
		}
		if got := c.Window(time.Now(), 30*time.Minute); got.Total != 10 {
			t.Errorf("Window(30m) = %+v, want the 10 events", got)
		}
		// One good event an hour for 40 days.
		for range 40 * 24 {
			time.Sleep(time.Hour)
			c.Record(true)
		}
		now := time.Now()
		if got := c.Window(now, 30*24*time.Hour); got.Total != 30*24+1 || got.Good != got.Total {
			t.Errorf("after 40 days, Window(30d) = %+v, want %d good events", got, 30*24+1)
		}
		if got := c.Window(now, 3*24*time.Hour); got.Total != 3*24+1 {
			t.Errorf("Window(3d) = %+v, want %d events", got, 3*24+1)
		}
		// A window longer than the counter's span is cut to it.
		if got := c.Window(now, 90*24*time.Hour); got.Total != 30*24+1 {
			t.Errorf("Window(90d) = %+v, want the 30 days held (%d events)", got, 30*24+1)
		}
	})
}

func TestCounterConcurrent(t *testing.T) {
	c := slo.NewCounter(time.Hour)
	const workers, each = 4, 5000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				c.Record(i%10 != w)
			}
		})
	}
	var reads sync.WaitGroup
	reads.Go(func() {
		for range 100 {
			if e := c.Window(time.Now(), time.Hour); e.Good > e.Total {
				t.Errorf("Window = %+v: more good than total", e)
				return
			}
		}
	})
	wg.Wait()
	reads.Wait()
	if got := c.Window(time.Now(), time.Hour); got.Total != workers*each || got.Good != workers*each*9/10 {
		t.Errorf("after %d events, Window(1h) = %+v, want %d total, %d good", workers*each, got, workers*each, workers*each*9/10)
	}
}

func TestSum(t *testing.T) {
	a, b := slo.NewCounter(time.Hour), slo.NewCounter(time.Hour)
	a.RecordAt(base, true)
	b.RecordAt(base, false)
	b.RecordAt(base, true)
	if got, want := (slo.Sum{a, b}).Window(base, time.Hour), (slo.Events{Good: 2, Total: 3}); got != want {
		t.Errorf("Sum.Window = %+v, want %+v", got, want)
	}
}

func TestEventsErrorRatio(t *testing.T) {
	for _, tt := range []struct {
		e    slo.Events
		want float64
	}{
		{slo.Events{}, 0},
		{slo.Events{Good: 3, Total: 4}, 0.25},
		{slo.Events{Good: 0, Total: 2}, 1},
	} {
		if got := tt.e.ErrorRatio(); got != tt.want {
			t.Errorf("%+v.ErrorRatio() = %v, want %v", tt.e, got, tt.want)
		}
	}
}

// FuzzCounterWindows checks the laws of windows for any sequence of
// events: a window holds no more good events than events, a longer window
// holds at least what a shorter one does, and the longest holds what
// Total does.
func FuzzCounterWindows(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 200, 7, 255, 9})
	f.Add([]byte{255, 255, 255, 0, 0, 1})
	f.Fuzz(func(t *testing.T, steps []byte) {
		c := slo.NewCounter(72 * time.Hour)
		at := base
		for _, s := range steps {
			// The high bits move the clock by up to about 2 hours
			// 40 minutes, the low bit is the event's goodness.
			at = at.Add(time.Duration(s>>1) * 79 * time.Second)
			c.RecordAt(at, s&1 == 1)
		}
		prev := slo.Events{}
		for _, d := range []time.Duration{time.Minute, 5 * time.Minute, time.Hour, 6 * time.Hour, 7 * time.Hour, 72 * time.Hour} {
			e := c.Window(at, d)
			if e.Good > e.Total {
				t.Fatalf("Window(%v) = %+v: more good than total", d, e)
			}
			if e.Total < prev.Total || e.Good < prev.Good {
				t.Fatalf("Window(%v) = %+v holds less than a shorter window's %+v", d, e, prev)
			}
			prev = e
		}
		if at.Sub(base) < 71*time.Hour && prev != c.Total() {
			t.Fatalf("Window(72h) = %+v, Total() = %+v after %v", prev, c.Total(), at.Sub(base))
		}
	})
}
