//go:build unix

package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/gateway"
)

const reloadBase = `
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s"}]}}]
`

// A reload whose new service waits for its discovery source does not hold
// up requests or Ready: both answer while the reload is still waiting, and
// a second reload waits for the first. The source is a file source reading
// a named pipe, whose first read returns only when the test writes to it.
func TestReloadWaitingForDiscoveryBlocksNeitherRequestsNorReady(t *testing.T) {
	a, b := upstream(t, "a"), upstream(t, "b")
	dir := t.TempDir()
	fifo := filepath.Join(dir, "slow.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf(reloadBase, a)
	g, err := gateway.New(gateway.Options{
		Config:          parse(t, base+"routes: [{name: all, service: api}]\n"),
		Logger:          slog.New(slog.DiscardHandler),
		FirstReportWait: time.Hour, // the reload waits for the pipe, not a clock
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	url := "http://" + g.Addrs()[0]
	var w, keep *os.File
	first, second := make(chan error, 1), make(chan error, 1)
	defer func() {
		// A source still reading the pipe gets an end of file.
		if w != nil {
			w.Close()
		}
		if keep != nil {
			keep.Close()
		}
		if r, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			r.Close()
		}
		g.Shutdown(context.Background())
	}()

	withSlow := base + fmt.Sprintf("  - name: slow\n    discovery: [{file: {path: %s}}]\nroutes:\n  - {name: slow, service: slow, match: {path_prefix: /slow}}\n  - {name: all, service: api}\n", fifo)
	slow, more := parse(t, withSlow), parse(t, withSlow+"  - {name: more, service: api, match: {path_prefix: /more}}\n")
	go func() { first <- g.Reload(slow) }()

	// The pipe opens for writing once the new service's source opened it
	// to read: from here the reload waits for that source's first report.
	w, err = os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() { second <- g.Reload(more) }()
	if err := g.Ready(); err != nil {
		t.Errorf("Ready during the reload = %v, want nil (the running configuration is ready)", err)
	}
	if got := body(t, url+"/"); got != "a" {
		t.Errorf("GET / during the reload = %q, want a", got)
	}
	if got := body(t, url+"/slow"); got != "a" {
		t.Errorf("GET /slow during the reload = %q, want a (the old routing until the swap)", got)
	}
	select {
	case err := <-first:
		t.Fatalf("the reload returned (%v) before its new service's source reported", err)
	case err := <-second:
		t.Fatalf("the second reload returned (%v) while the first was in progress", err)
	default:
	}

	// The source reports: the first reload completes, then the second.
	if _, err := io.WriteString(w, "instances:\n  - addr: "+b+"\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w = nil
	if err := <-first; err != nil {
		t.Fatalf("first reload: %v", err)
	}
	// Later reads (the source reads again on a change in the directory)
	// find a regular file; one that opened the pipe before it was
	// replaced reads until keep is closed.
	if keep, err = os.OpenFile(fifo, os.O_RDWR, 0); err != nil {
		t.Fatal(err)
	}
	regular := filepath.Join(dir, "slow.tmp")
	if err := os.WriteFile(regular, []byte("instances:\n  - addr: "+b+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(regular, fifo); err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatalf("second reload: %v", err)
	}
	for path, want := range map[string]string{"/": "a", "/slow": "b", "/more": "a"} {
		if got := body(t, url+path); got != want {
			t.Errorf("GET %s after both reloads = %q, want %q", path, got, want)
		}
	}
}

func body(t *testing.T, url string) string {
	t.Helper()
	_, b, _ := get(t, url)
	return b
}
