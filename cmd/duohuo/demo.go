package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/duohuo/duohuo/internal/demo"
	"github.com/duohuo/duohuo/internal/telemetry"
	"github.com/duohuo/duohuo/platform"
)

func init() { subcommands = append(subcommands, newDemoCmd) }

func newDemoCmd() *cobra.Command {
	var (
		o           demo.Options
		printConfig bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a three-cloud topology on loopback: demo service instances, the gateway and the admin listener",
		Long: `Run duohuo's embedded default: three simulated clouds (ctyun, ecloud, huawei) with
three instances each of a demo HTTP service that answers with its identity, the
gateway in front of them (site ctyun/cn-north-1) and the admin listener, all on
loopback. Everything stops on Ctrl-C.

The gateway prefers the local cloud and fails over to the others when it fails.
--print-config prints the configuration the demo uses; "duohuo serve -c" accepts
it as is (start the backends with "duohuo demo" or your own).`,
		Example: `  duohuo demo
  curl -s localhost:8080/hello
  duohuo demo --print-config > demo.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if printConfig {
				y, err := demo.ConfigYAML(o, demo.DefaultAddrs(o))
				if err != nil {
					return err
				}
				_, err = out.Write(y)
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDemo(ctx, o, cmd)
		},
	}
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:8080", "gateway address")
	cmd.Flags().StringVar(&o.AdminListen, "admin", "127.0.0.1:9900", "admin listener address (/metrics, /healthz, /readyz, /debug/pprof/)")
	cmd.Flags().IntVar(&o.BasePort, "base-port", 18001, "first port of the nine demo instances on 127.0.0.1")
	cmd.Flags().BoolVar(&printConfig, "print-config", false, "print the demo's configuration and exit")
	return cmd
}

func runDemo(ctx context.Context, o demo.Options, cmd *cobra.Command) error {
	out := cmd.OutOrStdout()
	log, err := telemetry.NewLogger(cmd.ErrOrStderr(), "warn", "text")
	if err != nil {
		return err
	}
	info, _ := platform.Detect(os.DirFS("/"))
	reg := telemetry.NewRegistry(info)
	top, err := demo.Start(o, reg, log)
	if err != nil {
		return err
	}
	admin, err := telemetry.NewAdmin(telemetry.AdminOptions{Addr: o.AdminListen, Registry: reg, Logger: log, Ready: top.Gateway.Ready})
	if err == nil {
		admin.Handle("/v1/services", top.Gateway.AdminHandler())
		admin.Handle("/v1/services/", top.Gateway.AdminHandler())
		admin.Handle("/v1/faults", top.Gateway.FaultsHandler())
		admin.Handle("/v1/faults/", top.Gateway.FaultsHandler())
		admin.Handle("/v1/gray/", top.Gateway.GrayHandler())
		err = admin.Start(ctx)
	}
	if err != nil {
		top.Shutdown(context.Background())
		return fmt.Errorf("admin listener: %w", err)
	}
	gw := top.Gateway.Addrs()[0]
	fmt.Fprintf(out, "duohuo demo: gateway http://%s  admin http://%s\n\n", gw, admin.Addr())
	for _, c := range demo.Clouds {
		fmt.Fprintf(out, "  %-7s", c.Name)
		for _, b := range top.Cloud(c.Name) {
			fmt.Fprintf(out, "  %s=%s", b.Identity().Name, b.Addr())
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, `
The gateway runs in ctyun/cn-north-1 and sends traffic to the ctyun instances;
when they fail it moves to ecloud and huawei, and back when they return.

Try:
  curl -s http://%[1]s/hello
  curl -s http://%[2]s/metrics | grep duohuo_
  curl -s http://%[2]s/readyz
  curl -s http://%[2]s/v1/services/demo     # tiers, instances, health

Ctrl-C stops everything.
`, gw, admin.Addr())
	<-ctx.Done()
	fmt.Fprintln(out, "\nstopping")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	top.Shutdown(sctx)
	return admin.Shutdown(sctx)
}
