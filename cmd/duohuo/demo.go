package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/duohuo/duohuo/internal/console"
	"github.com/duohuo/duohuo/internal/demo"
	"github.com/duohuo/duohuo/internal/telemetry"
	"github.com/duohuo/duohuo/platform"
	"github.com/duohuo/duohuo/replica"
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
  duohuo demo --print-config > demo.yaml
  duohuo demo --otlp 127.0.0.1:4317   # traces to a local collector or Jaeger`,
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
	cmd.Flags().StringVar(&o.SecureListen, "secure-listen", "127.0.0.1:8443", "address of the gateway listener that serves TLS and TLCP on one port, with certificates made at start; empty for none")
	cmd.Flags().StringVar(&o.OTLP, "otlp", "", "send every request's trace to this OTLP receiver: host:port over gRPC in cleartext (e.g. 127.0.0.1:4317), or http://host:4318 over OTLP/HTTP")
	cmd.Flags().BoolVar(&printConfig, "print-config", false, "print the demo's configuration and exit (without the secure listener, whose certificates exist only while the demo runs)")
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
	if o.SecureListen != "" {
		dir, err := os.MkdirTemp("", "duohuo-demo-certs-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if err := demo.WriteCerts(dir); err != nil {
			return fmt.Errorf("demo certificates: %w", err)
		}
		o.CertDir = dir
	}
	top, err := demo.Start(o, reg, log)
	if err != nil {
		return err
	}
	sites, err := startDemoReplicas(ctx, reg, log)
	if err != nil {
		top.Shutdown(context.Background())
		return err
	}
	defer sites.close()
	admin, err := telemetry.NewAdmin(telemetry.AdminOptions{Addr: o.AdminListen, Registry: reg, Logger: log, Ready: top.Gateway.Ready, OwnAuth: console.OwnsAuth})
	var con *console.Console
	if err == nil {
		con, err = console.New(console.Options{Admin: admin.Handler(), Services: top.Gateway.Services, Gatherer: reg,
			Site: console.SiteName(demo.Clouds[0].Name, demo.Clouds[0].Region, ""), Logger: log})
	}
	if err == nil {
		defer con.Close()
		con.Mount(admin)
		admin.Handle("/v1/services", top.Gateway.AdminHandler())
		admin.Handle("/v1/services/", top.Gateway.AdminHandler())
		admin.Handle("/v1/discovery", top.Gateway.AdminHandler())
		admin.Handle("/v1/discovery/", top.Gateway.AdminHandler())
		admin.Handle("/v1/health", top.Gateway.AdminHandler())
		admin.Handle("/v1/faults", top.Gateway.FaultsHandler())
		admin.Handle("/v1/faults/", top.Gateway.FaultsHandler())
		admin.Handle("/v1/gray/", top.Gateway.GrayHandler())
		sites.mount(admin)
		err = admin.Start(ctx)
	}
	if err != nil {
		if con != nil {
			con.Close()
		}
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
  open http://%[2]s/ui/                     # the web console (docs/console.md)

%[4]s
Replicated state: one replica per cloud, local-first writes, converging by gossip:
  %[3]s kv --admin %[2]s put demo/kv greeting hello            # write in ctyun
  %[3]s kv --admin http://%[2]s/sites/huawei get demo/kv greeting   # read in huawei

Ctrl-C stops everything.
`, gw, admin.Addr(), selfCommand(os.Args[0], os.Executable, exec.LookPath), secureHelp(o, top, selfCommand(os.Args[0], os.Executable, exec.LookPath)))
	<-ctx.Done()
	fmt.Fprintln(out, "\nstopping")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	con.Close() // its sampler reads the gateway's services
	top.Shutdown(sctx)
	return admin.Shutdown(sctx)
}

// selfCommand returns how a user types this program in a shell so that the
// commands the demo prints work as given: "duohuo" when that is on PATH and
// is this program, "go run ./cmd/duohuo" when it was started by go run (its
// binary lives in a temporary build directory that go run deletes on exit),
// else the path it was started by, made absolute.
func selfCommand(arg0 string, executable func() (string, error), lookPath func(string) (string, error)) string {
	exe, err := executable()
	if err != nil {
		exe = arg0
	}
	if p, err := lookPath("duohuo"); err == nil && sameFile(p, exe) {
		return "duohuo"
	}
	if strings.Contains(filepath.ToSlash(exe), "/go-build") {
		return "go run ./cmd/duohuo"
	}
	if abs, err := filepath.Abs(exe); err == nil {
		exe = abs
	}
	return exe
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// demoSites are the demo's replicas of the replicated state, one per cloud,
// gossiping over loopback.
type demoSites struct {
	dir    string
	stores []*replica.Store
}

func startDemoReplicas(ctx context.Context, reg prometheus.Registerer, log *slog.Logger) (*demoSites, error) {
	dir, err := os.MkdirTemp("", "duohuo-demo-replicas-")
	if err != nil {
		return nil, err
	}
	d := &demoSites{dir: dir}
	var join []string
	for _, c := range demo.Clouds {
		st, err := replica.Open(ctx, replica.Config{
			Name: c.Name + "/" + c.Region, Dir: filepath.Join(dir, c.Name),
			BindAddr: "127.0.0.1", Join: join, Network: replica.NetworkLocal,
			Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"site": c.Name}, reg), Logger: log,
		})
		if err != nil {
			d.close()
			return nil, fmt.Errorf("demo replica %s: %w", c.Name, err)
		}
		d.stores = append(d.stores, st)
		if len(join) == 0 {
			join = []string{st.Addr()}
		}
	}
	return d, nil
}

// mount serves the local site's (ctyun's) store on /v1/kv/ and every site's
// on /sites/CLOUD/v1/kv/, so that a write in one cloud can be read in another.
func (d *demoSites) mount(a *telemetry.Admin) {
	for i, st := range d.stores {
		h := replica.Handler(st)
		if i == 0 {
			a.Handle("/v1/kv/", h)
			a.Handle("/v1/watch/", h)
		}
		prefix := "/sites/" + demo.Clouds[i].Name
		a.Handle(prefix+"/", http.StripPrefix(prefix, h))
	}
}

func (d *demoSites) close() {
	for _, st := range d.stores {
		st.Close()
	}
	os.RemoveAll(d.dir)
}

// secureHelp tells how to reach the secure listener, if the demo has one.
func secureHelp(o demo.Options, top *demo.Topology, self string) string {
	addrs := top.Gateway.Addrs()
	if o.CertDir == "" || len(addrs) < 2 {
		return ""
	}
	return fmt.Sprintf(`TLS and TLCP (national cryptography, docs/gm.md) on one port, https://%[1]s:
  curl -sk https://%[1]s/hello                                   # TLS 1.3
  %[2]s gm client --ca %[3]s https://%[1]s/hello   # TLCP, SM2/SM3/SM4
`, addrs[1], self, filepath.Join(o.CertDir, demo.GMCAFile))
}
