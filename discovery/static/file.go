package static

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/duohuo/duohuo/discovery"
)

// FileConfig configures a [File] source. The zero value is ready to use.
type FileConfig struct {
	// Name is the source's name. If empty, "file:" followed by the path,
	// and "#" and Service when Service is set.
	Name string
	// Service, if set, makes the source report that one service: the file
	// may then be an "instances" list, or a "services" map that must
	// contain it (see [Parse]). If empty, the file is a "services" map and
	// every service in it is reported.
	Service string
	// Debounce is how long the file must stay quiet after a change before
	// it is read, so that an editor's or a deploy tool's burst of writes
	// is read once. If zero, 100ms.
	Debounce time.Duration
	// Logger receives refused files, with their file:line:col. If nil,
	// slog.Default() is used.
	Logger *slog.Logger
}

// File reports the instances listed in an instances file (see [Parse] for
// the format) and follows its changes. It is safe for concurrent use; each
// Watch call runs its own watcher.
//
// File watches the file's directory rather than the file, so that the ways
// tools replace a file all work: write in place, truncate then write,
// write a temporary file and rename it over (editors, Ansible), delete and
// recreate, and Kubernetes ConfigMap volumes (a "..data" symlink swapped
// in the directory). Any change in the directory triggers a debounced
// read; a file whose bytes did not change is not parsed again.
//
// A file that cannot be read or parsed is refused: the error, with its
// file:line:col, is logged and recorded with Updater.Fail, and the last
// good instances keep serving. An empty file is refused too ([ErrEmpty]),
// so a reader that catches the file between truncate and write does not
// empty the service.
type File struct {
	path string
	cfg  FileConfig
}

var _ discovery.Source = (*File)(nil)

// NewFile returns a File source for path.
func NewFile(path string, cfg FileConfig) *File {
	if cfg.Name == "" {
		cfg.Name = "file:" + path
		if cfg.Service != "" {
			cfg.Name += "#" + cfg.Service
		}
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &File{path: path, cfg: cfg}
}

// Name implements [discovery.Source].
func (f *File) Name() string { return f.cfg.Name }

// Watch implements [discovery.Source]. It reads the file, then follows its
// directory until ctx is done. It returns early with an error only when the
// directory cannot be watched (for instance, it does not exist); the
// aggregator then calls it again after a backoff.
func (f *File) Watch(ctx context.Context, u discovery.Updater) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", f.path, err)
	}
	defer w.Close()
	dir := filepath.Dir(f.path)
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("watch directory %s: %w", dir, err)
	}

	var last []byte // the bytes last read; nil after a read error
	load := func() {
		data, err := os.ReadFile(f.path)
		if err != nil {
			last = nil
			f.refuse(u, fmt.Errorf("read instances file: %w", err))
			return
		}
		if last != nil && bytes.Equal(data, last) {
			return
		}
		last = data
		services, err := Parse(f.path, data, f.cfg.Service)
		if err != nil {
			f.refuse(u, err)
			return
		}
		// A refusal here (e.g. a name clash across services) is recorded
		// and logged by the aggregator.
		_ = u.Update(services)
	}
	load()

	debounce := time.NewTimer(0)
	<-debounce.C
	for {
		select {
		case <-ctx.Done():
			debounce.Stop()
			return ctx.Err()
		case _, ok := <-w.Events:
			if !ok {
				return errors.New("file watcher closed")
			}
			debounce.Reset(f.cfg.Debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("file watcher closed")
			}
			// Typically an event-queue overflow: events were lost, so
			// read the file again.
			f.cfg.Logger.Warn("instances file watcher", slog.String("source", f.cfg.Name), slog.Any("err", err))
			debounce.Reset(f.cfg.Debounce)
		case <-debounce.C:
			load()
		}
	}
}

func (f *File) refuse(u discovery.Updater, err error) {
	f.cfg.Logger.Error("instances file refused; keeping the last good instances",
		slog.String("source", f.cfg.Name), slog.Any("err", err))
	u.Fail(err)
}
