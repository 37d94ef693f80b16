package static_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/discoverytest"
	"github.com/duohuo/duohuo/discovery/static"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// doc returns an instances file with one service "api" at the given ports.
func doc(ports ...int) []byte {
	s := "services:\n  api:\n"
	for _, p := range ports {
		s += fmt.Sprintf("    - addr: 127.0.0.1:%d\n      cloud: ctyun\n", p)
	}
	return []byte(s)
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ports returns the view's instance ports, or nil without a view.
func ports(v *discovery.ServiceView) []int {
	if v == nil {
		return nil
	}
	out := []int{}
	for _, in := range v.Instances {
		out = append(out, int(in.Addr.Port()))
	}
	return out
}

func hasPorts(want ...int) func(*discovery.ServiceView) bool {
	return func(v *discovery.ServiceView) bool {
		got := ports(v)
		if got == nil || len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	}
}

// waitErr polls, every millisecond, the source's status until its latest error wraps target.
func waitErr(t *testing.T, a *discovery.Aggregator, target error) discovery.SourceStatus {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(discoverytest.WaitTimeout)
	for {
		st := a.Status()[0]
		if st.Stale && errors.Is(st.Err, target) {
			return st
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("status %+v: no error wrapping %v", st, target)
		}
	}
}

// setup writes the initial file, starts a File source on it and waits for
// the first view.
func setup(t *testing.T, debounce time.Duration, first []byte, want ...int) (*discovery.Aggregator, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "instances.yaml")
	write(t, path, first)
	a := discovery.NewAggregator(discovery.AggregatorConfig{Logger: discard})
	t.Cleanup(func() { a.Close() })
	if err := a.Add(static.NewFile(path, static.FileConfig{Debounce: debounce, Logger: discard})); err != nil {
		t.Fatal(err)
	}
	discoverytest.WaitView(t, a, "api", hasPorts(want...))
	return a, path
}

func TestFileFollowsChanges(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, path string, data []byte)
	}{
		{"a write in place is followed", func(t *testing.T, path string, data []byte) { write(t, path, data) }},
		{"a temporary file renamed over the file is followed", func(t *testing.T, path string, data []byte) {
			tmp := path + ".tmp"
			write(t, tmp, data)
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncate then write is followed", func(t *testing.T, path string, data []byte) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{"delete then create is followed", func(t *testing.T, path string, data []byte) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			write(t, path, data)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, path := setup(t, 10*time.Millisecond, doc(1001), 1001)
			tt.change(t, path, doc(1002, 1003))
			discoverytest.WaitView(t, a, "api", hasPorts(1002, 1003))
			tt.change(t, path, doc(1004))
			discoverytest.WaitView(t, a, "api", hasPorts(1004))
		})
	}
}

func TestFileKeepsLastGoodView(t *testing.T) {
	tests := []struct {
		name      string
		breakFile func(t *testing.T, path string)
		want      error
	}{
		{"a file with a bad address", func(t *testing.T, path string) {
			write(t, path, []byte("services:\n  api:\n    - addr: 127.0.0.1:99999\n"))
		}, discovery.ErrInvalidAddr},
		{"a file that is not YAML", func(t *testing.T, path string) {
			write(t, path, []byte("services: [\n"))
		}, static.ErrSyntax},
		{"a truncated (empty) file", func(t *testing.T, path string) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}, static.ErrEmpty},
		{"a deleted file", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name+" keeps the last good view until the file is fixed", func(t *testing.T) {
			a, path := setup(t, 10*time.Millisecond, doc(1001, 1002), 1001, 1002)
			before := a.View("api")
			tt.breakFile(t, path)
			st := waitErr(t, a, tt.want)
			if got := a.View("api"); got != before {
				t.Errorf("View(api) = %+v after a bad file, want the last good %+v", got, before)
			}
			var pe *static.ParseError
			if errors.As(st.Err, &pe) && (pe.File != path || pe.Line < 1) {
				t.Errorf("error %v does not name the file and line", st.Err)
			}
			write(t, path, doc(1003))
			discoverytest.WaitView(t, a, "api", hasPorts(1003))
			if st := a.Status()[0]; st.Stale {
				t.Errorf("Status()[0] = %+v after a fix, want not stale", st)
			}
		})
	}
}

func TestFileDebouncesBursts(t *testing.T) {
	a, path := setup(t, 300*time.Millisecond, doc(1000), 1000)
	for p := 1001; p <= 1020; p++ {
		write(t, path, doc(p))
	}
	discoverytest.WaitView(t, a, "api", hasPorts(1020))
	// One initial read, then the burst of 20 writes read once or, if the
	// machine stalled mid-burst, twice.
	if st := a.Status()[0]; st.Updates > 3 {
		t.Errorf("Status()[0].Updates = %d after a burst of 20 writes, want at most 3 (debounced)", st.Updates)
	}
}

func TestFileFollowsKubernetesConfigMapSwap(t *testing.T) {
	// A ConfigMap volume: instances.yaml → ..data/instances.yaml, and
	// ..data → ..<timestamp>, swapped atomically on update.
	dir := t.TempDir()
	version := func(name string, data []byte) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, name, "instances.yaml"), data)
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..v1", doc(1001))
	path := filepath.Join(dir, "instances.yaml")
	if err := os.Symlink(filepath.Join("..data", "instances.yaml"), path); err != nil {
		t.Fatal(err)
	}
	a := discovery.NewAggregator(discovery.AggregatorConfig{Logger: discard})
	defer a.Close()
	if err := a.Add(static.NewFile(path, static.FileConfig{Debounce: 10 * time.Millisecond, Logger: discard})); err != nil {
		t.Fatal(err)
	}
	discoverytest.WaitView(t, a, "api", hasPorts(1001))
	version("..v2", doc(1002))
	discoverytest.WaitView(t, a, "api", hasPorts(1002))
}

func TestFileInMissingDirectoryIsRetried(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	path := filepath.Join(dir, "instances.yaml")
	a := discovery.NewAggregator(discovery.AggregatorConfig{
		Logger: discard, RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond,
	})
	defer a.Close()
	if err := a.Add(static.NewFile(path, static.FileConfig{Debounce: 10 * time.Millisecond, Logger: discard})); err != nil {
		t.Fatal(err)
	}
	waitErr(t, a, fs.ErrNotExist)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, path, doc(1001))
	discoverytest.WaitView(t, a, "api", hasPorts(1001))
}

func TestStaticSource(t *testing.T) {
	a := discovery.NewAggregator(discovery.AggregatorConfig{Logger: discard})
	defer a.Close()
	services := map[string][]discovery.Instance{"api": discoverytest.Instances("127.0.0.1:1001", "127.0.0.1:1002")}
	if err := a.Add(static.New("static", services)); err != nil {
		t.Fatal(err)
	}
	services["api"][0].Weight = 9 // New copied it
	v := discoverytest.WaitView(t, a, "api", hasPorts(1001, 1002))
	if v.Instances[0].Weight != discovery.DefaultWeight || v.Instances[0].Source != "static" {
		t.Errorf("View(api).Instances[0] = %+v, want default weight from source static", v.Instances[0])
	}
}

func TestFileWithOneService(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.yaml")
	write(t, path, []byte("instances:\n  - addr: 127.0.0.1:1001\n"))
	a := discovery.NewAggregator(discovery.AggregatorConfig{Logger: discard})
	defer a.Close()
	src := static.NewFile(path, static.FileConfig{Service: "api", Debounce: 10 * time.Millisecond, Logger: discard})
	if got, want := src.Name(), "file:"+path+"#api"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	if err := a.Add(src); err != nil {
		t.Fatal(err)
	}
	discoverytest.WaitView(t, a, "api", hasPorts(1001))
	write(t, path, []byte("instances:\n  - addr: 127.0.0.1:1002\n"))
	discoverytest.WaitView(t, a, "api", hasPorts(1002))
}

// TestReloadUnderConcurrentReads rewrites the file many times, by rename
// and by truncate-then-write, while readers call View in a loop: every view
// a reader sees must be one whole version of the file, never missing,
// empty or a mix.
func TestReloadUnderConcurrentReads(t *testing.T) {
	a, path := setup(t, 5*time.Millisecond, doc(1000, 1001, 1002), 1000, 1001, 1002)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	bad := make(chan string, 4)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				p := ports(a.View("api"))
				reads.Add(1)
				if len(p) != 3 || p[1] != p[0]+1 || p[2] != p[0]+2 || p[0]%10 != 0 {
					select {
					case bad <- fmt.Sprint(p):
					default:
					}
					return
				}
				runtime.Gosched()
			}
		})
	}
	for v := 1; v <= 30; v++ {
		base := 1000 + 10*v
		data := doc(base, base+1, base+2)
		if v%2 == 0 {
			tmp := path + ".tmp"
			write(t, tmp, data)
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		} else {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				t.Fatal(err)
			}
			// Half of the truncations are left visible for a moment so the
			// debounced read can catch the empty file.
			if v%4 == 1 {
				waitErr(t, a, static.ErrEmpty)
			}
			if _, err := f.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
		discoverytest.WaitView(t, a, "api", hasPorts(base, base+1, base+2))
	}
	close(stop)
	wg.Wait()
	select {
	case p := <-bad:
		t.Fatalf("a reader saw the view %v during reloads, want one whole version", p)
	default:
	}
	if reads.Load() == 0 {
		t.Fatal("readers made no reads")
	}
}
