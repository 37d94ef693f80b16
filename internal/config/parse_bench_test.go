package config

import (
	"os"
	"testing"
)

// BenchmarkParse measures decoding and validating examples/multi-cloud.yaml
// (nine instances, two routes). Parse runs on every reload, off the request
// path; the figure bounds how fast a watched file or admin push can apply.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("../../examples/multi-cloud.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := parse("multi-cloud.yaml", data, testEnv); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseInvalid measures examples/bad.yaml, where every error is
// positioned, sorted and formatted.
func BenchmarkParseInvalid(b *testing.B) {
	data, err := os.ReadFile("../../examples/bad.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parse("bad.yaml", data, testEnv); err == nil {
			b.Fatal("bad.yaml parsed")
		}
	}
}
