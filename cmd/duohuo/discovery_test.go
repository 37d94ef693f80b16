package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
)

// duohuo discovery dump prints, for a real gateway's admin API, each
// source's instances with their fate and the published ones with health.
func TestDiscoveryDump(t *testing.T) {
	a, b := newEcho(t, "a"), newEcho(t, "b")
	text := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery:
      - static: {instances: [{addr: "%s"}]}
      - static: {instances: [{addr: "%s"}, {addr: "%s"}]}
routes: [{name: all, service: api}]
`, a, a, b)
	cfg, err := config.Parse("t.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	srv := httptest.NewServer(g.AdminHandler())
	defer srv.Close()

	for _, args := range [][]string{{"discovery", "dump", "--admin", srv.URL}, {"discovery", "dump", "api", "--admin", srv.URL}} {
		var out, errb bytes.Buffer
		root := newRootCmd(&out, &errb)
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v (%s)", args, err, errb.String())
		}
		got := out.String()
		for _, want := range []string{"service api", "precedence 0", "precedence 1", "hidden: address also reported by", "published: 2 instances"} {
			if !strings.Contains(got, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, got)
			}
		}
	}
	var out, errb bytes.Buffer
	root := newRootCmd(&out, &errb)
	root.SetArgs([]string{"discovery", "dump", "nope", "--admin", srv.URL})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("dump of an unknown service: %v, want the 404", err)
	}
}
