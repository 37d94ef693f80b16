// Package telemetry sets up duohuo's logging, metrics and admin HTTP server.
//
// Logs are log/slog, text or JSON. Metrics are a Prometheus registry with the
// Go and process collectors and two info metrics, duohuo_build_info and
// duohuo_platform_info. The admin server serves /metrics, /healthz, /readyz
// and /debug/pprof/ on loopback by default, and lets later features mount
// their API (/v1/...) with [Admin.Handle]:
//
//	log, err := telemetry.NewLogger(os.Stderr, "info", "json")
//	if err != nil { return err }
//	info, _ := platform.Detect(os.DirFS("/"))
//	admin, err := telemetry.NewAdmin(telemetry.AdminOptions{
//		Registry: telemetry.NewRegistry(info),
//		Logger:   log,
//		Ready:    gw.Ready, // nil: always ready
//	})
//	if err != nil { return err } // e.g. a non-loopback Addr without a Token
//	admin.Handle("/v1/routes", routesHandler)
//	if err := admin.Start(ctx); err != nil { return err } // bind errors surface here
//	defer admin.Shutdown(context.Background())
//
// The admin server refuses to listen beyond loopback unless a bearer token is
// configured; with a token, every path except /healthz and /readyz requires
// "Authorization: Bearer <token>". Without one, it refuses requests whose
// Host does not name it (DNS rebinding) and changes that a web page could
// send across sites: see [Admin.Handler] and docs/security.md. The token,
// the host names and the address change while it serves with
// [Admin.Prepare], then [AdminChange.Commit]:
//
//	ch, err := admin.Prepare(ctx, telemetry.AdminAccess{Addr: "127.0.0.1:9901", Token: tok})
//	if err != nil { return err } // e.g. the new address is taken: nothing changed
//	ch.Commit()                  // new listener serving, then the old one closed
package telemetry
