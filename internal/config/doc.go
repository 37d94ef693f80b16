// Package config reads duohuo's configuration file: YAML decoded into typed
// structs, defaults filled, unknown keys refused, ${VAR} expanded, and every
// problem reported at once with its place.
package config
