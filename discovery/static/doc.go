// Package static provides discovery sources whose instances are listed by
// hand: [Source], from Go values (the gateway's config file), and [File],
// from an instances file that is hot-reloaded when it changes.
//
// The instances file is YAML (or JSON) with a list of instances per
// service; [Parse] documents the format and refuses a bad file with a
// [*ParseError] that names file:line:col. [File] watches the file's
// directory with fsnotify, debounces bursts of writes and keeps the last
// good instances when the file is bad, empty or gone.
//
//	agg := discovery.NewAggregator(discovery.AggregatorConfig{})
//	defer agg.Close()
//	agg.Add(static.NewFile("/etc/duohuo/instances.yaml", static.FileConfig{}))
//	v := agg.View("api")
package static
