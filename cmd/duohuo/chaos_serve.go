package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/duohuo/duohuo/fault/toxiapi"
)

// chaosServeOptions are the flags of `duohuo chaos serve`.
type chaosServeOptions struct {
	listen      string
	allowRemote bool
	config      string
}

func newChaosServeCmd() *cobra.Command {
	var o chaosServeOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve Toxiproxy's HTTP API: many fault proxies, driven by existing Toxiproxy clients",
		Long: `Serve Toxiproxy's HTTP API (version 2.5.0) on --listen, so that Toxiproxy
clients and the test suites written with them work unchanged: they create
proxies by name (POST /proxies, POST /populate), add, update and remove
toxics (latency, bandwidth, slow_close, timeout, reset_peer, slicer,
limit_data), disable and enable proxies, and POST /reset to remove every
toxic and enable every proxy. Errors are Toxiproxy's
{"error": "...", "status": N}. See docs/fault.md for what differs.

The API has no authentication, as Toxiproxy's has none, and each proxy it
creates opens a port that relays to any address the caller names. So the
API and every proxy stay on loopback: a listen address that is not
loopback is refused, and a proxy listen address with no host binds
127.0.0.1. --allow-remote lifts both rules; use it only on a network where
everyone who can reach the port may open ports on this machine.
Requests from web browsers are refused (403), so that a page cannot drive
the API.

--config FILE creates proxies at start from a JSON array, as Toxiproxy's
-config does and POST /populate takes.

The server runs until interrupted (SIGINT or SIGTERM), then closes every
proxy, its port and its connections.`,
		Example: `  duohuo chaos serve
  duohuo chaos serve --listen 127.0.0.1:8474 --config proxies.json
  curl -X POST -d '{"name":"redis","listen":"127.0.0.1:26379","upstream":"127.0.0.1:6379"}' http://127.0.0.1:8474/proxies
  curl -X POST -d '{"type":"latency","attributes":{"latency":100}}' http://127.0.0.1:8474/proxies/redis/toxics`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ap, err := netip.ParseAddrPort(o.listen)
			if err != nil {
				return usagef("--listen %q: want IP:PORT: %w", o.listen, err)
			}
			if !ap.Addr().IsLoopback() && !o.allowRemote {
				return usagef("--listen %s: not a loopback address; the API has no authentication and opens ports on request, so it needs --allow-remote", o.listen)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runChaosServe(ctx, o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.listen, "listen", "127.0.0.1:8474", "IP:PORT of the API (Toxiproxy's default port)")
	cmd.Flags().BoolVar(&o.allowRemote, "allow-remote", false, "allow the API and proxies on addresses other than loopback (anyone reaching the API can open ports)")
	cmd.Flags().StringVar(&o.config, "config", "", "JSON array of proxies to create at start, as POST /populate takes")
	return cmd
}

// runChaosServe serves the API until ctx ends, then closes every proxy.
func runChaosServe(ctx context.Context, o chaosServeOptions, out io.Writer) error {
	s := toxiapi.New(toxiapi.Config{AllowRemote: o.allowRemote})
	defer s.Close()
	if o.config != "" {
		f, err := os.Open(o.config)
		if err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		n, err := s.Populate(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--config %s: %w", o.config, err)
		}
		fmt.Fprintf(out, "proxies %d from %s\n", n, o.config)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(out, "toxiproxy api http://%s/\n", ln.Addr())

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if runErr == nil {
		if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
			runErr = err
		}
	}
	if err := s.Close(); err != nil && runErr == nil {
		runErr = err
	}
	fmt.Fprintln(out, "stopped")
	return runErr
}
