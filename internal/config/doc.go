// Package config reads duohuo's configuration file, the contract of the
// duohuo binary: YAML decoded into plain typed structs, defaults filled,
// unknown and duplicate keys refused, ${VAR} and ${VAR:-default} expanded from
// the environment, and every problem reported at once with its place:
//
//	duohuo.yaml:12:17: routes[0].retry.attempts: must be between 0 and 10
//
// Usage:
//
//	cfg, err := config.Load("/etc/duohuo/duohuo.yaml")
//	var errs config.Errors
//	if errors.As(err, &errs) {
//		for _, e := range errs {
//			fmt.Println(e) // file:line:col: path: message
//		}
//	}
//	for _, s := range cfg.Services { … }
//
// The schema is the set of structs in config.go. Each field's yaml, doc,
// default, enum, min, max and required tags drive decoding, defaults, range
// checks, the JSON Schema ([JSONSchema], docs/duohuo.schema.json) and the
// reference in docs/configuration.md, so that they cannot drift apart; checks
// across fields live in each section's validate method. After changing the
// structs, run "go generate ./internal/config"; a test fails while the
// generated files are stale.
//
// Load and Parse are safe for concurrent use. A returned Config is a plain
// value that the package does not keep or change; to reload, load again and
// swap the new Config in (the last good one keeps serving if the new file is
// invalid).
package config
