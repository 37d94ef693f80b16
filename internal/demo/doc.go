// Package demo runs duohuo's embedded default: a multi-cloud topology on
// loopback — demo service instances in three simulated clouds, the gateway in
// front of them and the admin listener — for `duohuo demo` and `duohuo drill`.
package demo
