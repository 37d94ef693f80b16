package reload_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/internal/reload"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWatchSeesEveryWayOfReplacing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "duohuo.yaml")
	if err := os.WriteFile(path, []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan struct{}, 16)
	done := make(chan error, 1)
	go func() {
		done <- reload.Watch(ctx, path, 20*time.Millisecond, func() { changes <- struct{}{} })
	}()
	defer func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
	}()
	// The call at the start says the watch is in place.
	select {
	case <-changes:
	case <-time.After(30 * time.Second):
		t.Fatal("no call at the start of Watch")
	}
	wait := func(what string, act func()) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		act()
		for {
			select {
			case <-changes:
				// Drain what the same burst may still report.
				for len(changes) > 0 {
					<-changes
				}
				return
			case <-tick.C:
				act()
			case <-deadline:
				t.Fatalf("%s: no change reported", what)
			}
		}
	}
	wait("write in place", func() { os.WriteFile(path, []byte("b"), 0o600) })
	wait("rename over", func() {
		tmp := filepath.Join(dir, ".tmp")
		os.WriteFile(tmp, []byte("c"), 0o600)
		os.Rename(tmp, path)
	})
	wait("delete and recreate", func() {
		os.Remove(path)
		os.WriteFile(path, []byte("d"), 0o600)
	})
}

func TestWatchMissingDirectory(t *testing.T) {
	err := reload.Watch(context.Background(), filepath.Join(t.TempDir(), "no", "such", "file"), 0, func() {})
	if err == nil {
		t.Error("Watch(missing dir) = nil, want an error")
	}
}

// A change made while Watch starts, before the directory is watched, is
// not lost: onChange runs once as soon as the watch is in place.
func TestWatchCallsOnceAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "duohuo.yaml")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	called := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- reload.Watch(ctx, path, time.Millisecond, func() {
			select {
			case called <- struct{}{}:
			default:
			}
		})
	}()
	select {
	case <-called:
	case err := <-done:
		t.Fatalf("Watch returned %v before its first call", err)
	case <-time.After(30 * time.Second):
		t.Fatal("onChange not called at the start of Watch")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch after cancel = %v, want context.Canceled", err)
	}
}
