// Package reload tells `duohuo serve` when its configuration file changed.
//
// It watches the file's directory rather than the file, so that every way
// tools replace a file is seen: written in place, truncated and rewritten,
// renamed over (editors, Ansible), deleted and recreated, and Kubernetes
// ConfigMap volumes (a "..data" symlink swapped in the directory). Bursts of
// events are debounced into one call.
package reload

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long the directory must be quiet before a change
// is reported: long enough to cover an editor's write-rename sequence, short
// enough to feel immediate.
const DefaultDebounce = 200 * time.Millisecond

// Watch calls onChange after the directory holding path changes (any
// event), debounced by debounce (0 means DefaultDebounce), until ctx ends.
// onChange runs on Watch's goroutine, one call at a time; it should re-read
// the file and compare, since an event in the directory may concern another
// file. onChange is also called once as soon as the directory is watched,
// so that a change made while Watch was starting is not lost. Watch returns
// ctx.Err() when ctx ends, or an error if the directory cannot be watched.
func Watch(ctx context.Context, path string, debounce time.Duration, onChange func()) error {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	defer w.Close()
	dir := filepath.Dir(path)
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	// Fires once at the start: see the doc comment.
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case _, ok := <-w.Events:
			if !ok {
				return nil
			}
			timer.Reset(debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// An overflow loses events: treat it as a change.
			_ = err
			timer.Reset(debounce)
		case <-timer.C:
			onChange()
		}
	}
}
