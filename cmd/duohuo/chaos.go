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

	"github.com/duohuo/duohuo/fault/tcpproxy"
)

func init() { subcommands = append(subcommands, newChaosCmd) }

func newChaosCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Inject faults: a TCP fault proxy (Toxiproxy-style) in front of any server, or a Toxiproxy-compatible API",
	}
	cmd.AddCommand(newChaosProxyCmd(), newChaosServeCmd())
	return cmd
}

// chaosProxyOptions are the flags of `duohuo chaos proxy`.
type chaosProxyOptions struct {
	listen, upstream, admin string
	toxics                  []tcpproxy.Named
}

func newChaosProxyCmd() *cobra.Command {
	var (
		o      chaosProxyOptions
		toxics []string
	)
	cmd := &cobra.Command{
		Use:   "proxy --upstream HOST:PORT",
		Short: "Run a TCP proxy whose latency, bandwidth, blackhole, resets and refusals change at run time",
		Long: `Run a TCP proxy in front of one upstream server and break the network between
them, with the toxics Toxiproxy users know. Toxics given with --toxic apply
from the start; the admin API (--admin, loopback only, no authentication)
changes them while traffic flows:

  GET    /                  status: address, upstream, connections, toxics
  PUT    /toxics/NAME       body: a toxic, e.g. latency:50ms:10ms@both
  DELETE /toxics/NAME       remove one;  DELETE /toxics removes all
  PUT    /refuse            body true|false: refuse new connections (ECONNREFUSED)
  POST   /reset-conns       reset every open connection (TCP RST)

Toxic syntax: [NAME=]KIND[:ARG[:ARG]][@upstream|downstream|both][~TOXICITY]
  latency:DELAY[:JITTER]  bandwidth:BYTES_PER_SECOND  blackhole
  limit_data:BYTES        reset_peer[:AFTER]
Upstream is client → server; the default direction is downstream, as in
Toxiproxy. TOXICITY is the fraction of connections poisoned (default 1),
drawn once per connection. See docs/fault.md.

The proxy runs until interrupted (SIGINT or SIGTERM), then closes every
connection.`,
		Example: `  duohuo chaos proxy --listen 127.0.0.1:12379 --upstream 127.0.0.1:2379 --admin 127.0.0.1:8474
  duohuo chaos proxy --upstream 127.0.0.1:5432 --toxic latency:100ms:20ms@both --toxic bandwidth:1048576
  curl -X PUT --data 'blackhole@both' http://127.0.0.1:8474/toxics/partition`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.upstream == "" {
				return usagef("--upstream is required")
			}
			for _, s := range toxics {
				n, err := tcpproxy.ParseToxic(s)
				if err != nil {
					return usagef("--toxic: %w", err)
				}
				o.toxics = append(o.toxics, n)
			}
			if o.admin != "" {
				ap, err := netip.ParseAddrPort(o.admin)
				if err != nil {
					return usagef("--admin %q: want IP:PORT: %w", o.admin, err)
				}
				if !ap.Addr().IsLoopback() {
					return usagef("--admin %s: the admin API has no authentication; bind it to a loopback address", o.admin)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runChaosProxy(ctx, o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.listen, "listen", "127.0.0.1:0", "address the proxy listens on")
	cmd.Flags().StringVar(&o.upstream, "upstream", "", "HOST:PORT of the server behind the proxy (required)")
	cmd.Flags().StringVar(&o.admin, "admin", "", "loopback IP:PORT for the control API (none if empty)")
	cmd.Flags().StringArrayVar(&toxics, "toxic", nil, "toxic to apply from the start (repeatable)")
	return cmd
}

// runChaosProxy runs the proxy, and its admin API if asked, until ctx ends.
func runChaosProxy(ctx context.Context, o chaosProxyOptions, out io.Writer) error {
	p, err := tcpproxy.Listen(o.listen, o.upstream)
	if err != nil {
		return err
	}
	defer p.Close()
	for _, n := range o.toxics {
		if err := p.SetNamed(n); err != nil {
			return err
		}
		fmt.Fprintf(out, "toxic %s\n", tcpproxy.FormatToxic(n))
	}
	fmt.Fprintf(out, "proxy %s -> %s\n", p.Addr(), o.upstream)

	var srv *http.Server
	serveErr := make(chan error, 1)
	if o.admin != "" {
		ln, err := net.Listen("tcp", o.admin)
		if err != nil {
			return fmt.Errorf("admin: %w", err)
		}
		srv = &http.Server{Handler: p.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { serveErr <- srv.Serve(ln) }()
		fmt.Fprintf(out, "admin http://%s/\n", ln.Addr())
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("admin: %w", err)
	}
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		if runErr == nil {
			if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
				runErr = fmt.Errorf("admin: %w", err)
			}
		}
	}
	if err := p.Close(); err != nil && runErr == nil {
		runErr = err
	}
	fmt.Fprintln(out, "stopped")
	return runErr
}
