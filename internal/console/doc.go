// Package console is duohuo's web console, served by the admin listener on
// /ui/: the topology of clouds, regions, zones and instances with their
// health, the traffic of every route and cloud, gray policies, faults,
// health scores and the replicated store, live through server-sent events.
//
// Its pages are plain HTML, CSS and ES modules embedded in the binary (no
// build step, nothing loaded from elsewhere) under a strict
// Content-Security-Policy. It logs in with the admin token (or the
// read-only token) and keeps a server-side session behind an HttpOnly,
// SameSite=Strict cookie; every change needs the session's CSRF token and
// is forwarded to the admin API, whose own checks decide it.
//
//	admin, _ := telemetry.NewAdmin(telemetry.AdminOptions{Token: tok, OwnAuth: console.OwnsAuth})
//	con, _ := console.New(console.Options{Admin: admin.Handler(), Token: tok, Services: g.Services, Gatherer: reg})
//	defer con.Close() // before admin.Shutdown: it ends the event streams
//	con.Mount(admin)
//
// docs/console.md describes the pages and the security model.
package console
