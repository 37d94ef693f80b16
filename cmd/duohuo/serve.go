package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/spf13/cobra"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/console"
	"github.com/duohuo/duohuo/internal/gateway"
	"github.com/duohuo/duohuo/internal/globallimit"
	"github.com/duohuo/duohuo/internal/reload"
	"github.com/duohuo/duohuo/internal/telemetry"
	"github.com/duohuo/duohuo/platform"
	"github.com/duohuo/duohuo/replica"
)

func init() { subcommands = append(subcommands, newServeCmd) }

func newServeCmd() *cobra.Command {
	var (
		path     string
		drain    time.Duration
		noWatch  bool
		justBind bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway / sidecar from a config file",
		Long: `Run the gateway: load and validate the config file, start the admin listener
(/metrics, /healthz, /readyz, /debug/pprof/) and the traffic listeners, and
route requests to healthy instances of each service, nearest locality first.

The config file is watched: when it changes (or on SIGHUP) it is loaded again;
a valid file is applied without dropping requests, an invalid one is refused
with its errors and the running config keeps serving. A new admin.token is in
effect at once; a new admin.listen is bound before the old address closes, and
a reload whose new admin address cannot be bound is refused whole. SIGTERM or
SIGINT drains in-flight requests (up to --drain-timeout) and exits 0.`,
		Example: `  duohuo serve -c /etc/duohuo/duohuo.yaml
  duohuo demo --print-config > demo.yaml && duohuo serve -c demo.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return usagef("serve needs a config file: -c FILE")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			return serve(ctx, serveOptions{
				path: path, drain: drain, watch: !noWatch, hup: hup,
				stderr: cmd.ErrOrStderr(), exitAfterStart: justBind,
			})
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "config file (YAML); see docs/configuration.md")
	cmd.Flags().DurationVar(&drain, "drain-timeout", 30*time.Second, "how long to let in-flight requests finish on shutdown")
	cmd.Flags().BoolVar(&noWatch, "no-watch", false, "do not reload the config file when it changes (SIGHUP still reloads)")
	cmd.Flags().BoolVar(&justBind, "check-start", false, "start everything, then shut down at once (a smoke test for deployments)")
	return cmd
}

type serveOptions struct {
	path           string
	drain          time.Duration
	watch          bool
	hup            <-chan os.Signal
	stderr         io.Writer
	exitAfterStart bool
	// started, if set, receives the admin and gateway addresses once both
	// listen (tests).
	started func(admin string, gw []string)
}

// serve runs the gateway until ctx ends.
func serve(ctx context.Context, o serveOptions) error {
	// The file's text before it is loaded: the watcher compares with it, so
	// that a change made while serve starts is applied (at worst a change
	// made during the load is applied twice).
	last, _ := os.ReadFile(o.path)
	cfg, err := config.Load(o.path)
	if err != nil {
		var ce config.Errors
		if errors.As(err, &ce) {
			fmt.Fprintln(o.stderr, err)
			return usagef("%s: %d configuration error(s)", o.path, len(ce))
		}
		return usagef("%v", err)
	}
	log, err := telemetry.NewLogger(o.stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return usagef("%v", err)
	}
	logWarnings(log, cfg)
	// client-go (the kubernetes discovery source) logs through klog; send
	// it to the same handler, tagged, instead of klog's own stderr format.
	klog.SetSlogLogger(log.With("component", "client-go"))
	info, perr := platform.Detect(os.DirFS("/"))
	if perr != nil {
		log.Warn("platform fingerprint incomplete", "err", perr)
	}
	if pref, why, err := platform.ResolveCrypto(cfg.Crypto.Suites, info); err == nil {
		log.Info("platform", "distro", info.OS.Distro, "cpu", info.CPU.Vendor, "arch", info.Arch,
			"domestic", info.Domestic(), "crypto", pref, "why", why)
	}
	reg := telemetry.NewRegistry(info)

	// The replica is not the data plane: when it cannot open, serve goes
	// on without it and says so (docs/replication.md, "When the store
	// cannot open").
	var rep *replica.Store
	var repErr error
	if cfg.Replication != nil {
		if rep, repErr = openReplica(ctx, cfg, reg, log); repErr != nil {
			log.Error("replica did not start; serving without it (/v1/kv/ answers 503, /readyz names it); restart once fixed",
				"dir", cfg.Replication.Dir, "err", repErr)
		} else {
			defer rep.Close()
		}
	}
	// Global rate limits share their counts through the replica; without
	// it they admit only their share.
	var global gateway.GlobalCounters
	if rep != nil {
		gl, err := globallimit.Start(rep, log, nil)
		if err != nil {
			return fmt.Errorf("global limits: %w", err)
		}
		defer gl.Close()
		global = globalCounters{gl}
	}
	g, err := gateway.New(gateway.Options{Config: cfg, BaseDir: filepath.Dir(o.path), Registerer: reg, Logger: log, Global: global})
	if err != nil {
		return fmt.Errorf("start gateway: %w", err)
	}
	admin, err := telemetry.NewAdmin(telemetry.AdminOptions{
		Addr: cfg.Admin.Listen, Token: cfg.Admin.Token, ReadOnlyToken: cfg.Admin.ReadOnlyToken, Registry: reg, Logger: log, Ready: g.Ready,
		Degraded: replicaDegraded(rep, repErr), OwnAuth: console.OwnsAuth,
	})
	if err != nil {
		g.Shutdown(context.Background())
		return usagef("admin: %v", err)
	}
	// The web console on /ui/ (docs/console.md); closed before the admin
	// listener shuts down, which would otherwise wait for its event streams.
	con, err := console.New(console.Options{Admin: admin.Handler(), Token: cfg.Admin.Token, ReadOnlyToken: cfg.Admin.ReadOnlyToken,
		Services: g.Services, Gatherer: reg, Site: console.SiteName(cfg.Site.Cloud, cfg.Site.Region, cfg.Site.Zone), Logger: log})
	if err != nil {
		g.Shutdown(context.Background())
		return err
	}
	defer con.Close()
	con.Mount(admin)
	admin.Handle("/v1/services", g.AdminHandler())
	admin.Handle("/v1/services/", g.AdminHandler())
	admin.Handle("/v1/discovery", g.AdminHandler())
	admin.Handle("/v1/discovery/", g.AdminHandler())
	admin.Handle("/v1/health", g.AdminHandler())
	admin.Handle("/v1/faults", g.FaultsHandler())
	admin.Handle("/v1/faults/", g.FaultsHandler())
	admin.Handle("/v1/gray/", g.GrayHandler())
	admin.Handle("/v1/ratelimits", g.RateLimitsHandler())
	if rep != nil {
		admin.Handle("/v1/kv/", replica.Handler(rep))
		admin.Handle("/v1/watch/", replica.Handler(rep))
	} else if repErr != nil {
		admin.Handle("/v1/kv/", replicaUnavailable(repErr))
		admin.Handle("/v1/watch/", replicaUnavailable(repErr))
	}
	if err := admin.Start(ctx); err != nil {
		con.Close()
		g.Shutdown(context.Background())
		return fmt.Errorf("admin listener: %w", err)
	}
	if err := g.Start(); err != nil {
		con.Close()
		admin.Shutdown(context.Background())
		g.Shutdown(context.Background())
		return err
	}
	log.Info("serving", "admin", admin.Addr(), "listeners", g.Addrs(), "config", o.path)
	// Run-time gray policies reach every gateway of every site through
	// the replica (docs/gray-release.md, Across sites).
	if rep != nil {
		grayRepl, err := startGraySync(g, rep, reg, log)
		if err != nil {
			admin.Shutdown(context.Background())
			g.Shutdown(context.Background())
			return err
		}
		defer grayRepl.Close()
	}
	// Registered once the listeners serve; deregistered first on shutdown.
	selfReg, err := startRegistration(cfg, log)
	if err != nil {
		con.Close()
		admin.Shutdown(context.Background())
		g.Shutdown(context.Background())
		return usagef("%v", err)
	}
	if o.started != nil {
		o.started(admin.Addr(), g.Addrs())
	}

	// apply runs from the file watcher and from SIGHUP: one at a time.
	var reloadMu sync.Mutex
	apply := func(why string) {
		reloadMu.Lock()
		defer reloadMu.Unlock()
		next, err := config.Load(o.path)
		if err != nil {
			g.RefuseReload()
			log.Error("config reload refused; the running config keeps serving", "why", why, "err", err)
			return
		}
		logWarnings(log, next)
		// The admin part first: a new address that cannot be bound refuses
		// the whole reload, before the gateway changes.
		change, err := admin.Prepare(ctx, telemetry.AdminAccess{Addr: next.Admin.Listen, Token: next.Admin.Token, ReadOnlyToken: next.Admin.ReadOnlyToken, Hosts: next.Admin.Hosts})
		if err != nil {
			g.RefuseReload()
			log.Error("config reload refused: the admin listener cannot move; the running config keeps serving",
				"why", why, "admin", admin.Addr(), "new_admin", next.Admin.Listen, "err", err)
			return
		}
		err = g.Reload(next)
		if !g.Running(next) {
			change.Abort()
			log.Error("config reload refused; the running config keeps serving", "why", why, "err", err)
			return
		}
		oldAddr := admin.Addr()
		change.Commit()
		con.SetTokens(next.Admin.Token, next.Admin.ReadOnlyToken)
		if change.Moves() {
			log.Info("admin listener moved", "from", oldAddr, "to", admin.Addr())
		}
		if err != nil {
			log.Warn("config reload", "why", why, "err", err)
			return
		}
		log.Info("config reloaded", "why", why)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		if !o.watch {
			<-watchCtx.Done()
			return
		}
		err := reload.Watch(watchCtx, o.path, 0, func() {
			cur, err := os.ReadFile(o.path)
			if err != nil || string(cur) == string(last) {
				return
			}
			last = cur
			apply("file changed")
		})
		if err != nil && watchCtx.Err() == nil {
			log.Warn("config file not watched; SIGHUP still reloads", "err", err)
		}
	}()

	if !o.exitAfterStart {
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-o.hup:
				apply("SIGHUP")
			}
		}
	}
	stopWatch()
	<-watchDone
	log.Info("shutting down", "drain_timeout", o.drain)
	dctx, cancel := context.WithTimeout(context.Background(), o.drain)
	defer cancel()
	// Out of the registry before the listeners stop, so that clients
	// that discover this gateway move on while it still answers.
	rctx, rcancel := context.WithTimeout(dctx, 5*time.Second)
	if err := selfReg.Close(rctx); err != nil {
		log.Warn("deregistration failed; the registry removes this gateway when its lease, check or heartbeats run out", "err", err)
	}
	rcancel()
	con.Close() // its sampler reads the gateway's services
	gerr := g.Shutdown(dctx)
	aerr := admin.Shutdown(dctx)
	if err := errors.Join(gerr, aerr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// logWarnings logs the settings of cfg that have no effect yet (see
// config.Config.Warnings), one line each.
func logWarnings(log *slog.Logger, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		log.Warn("config warning", "warning", w.Error())
	}
}
