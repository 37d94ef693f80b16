package config

import (
	"bytes"
	"fmt"
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

// bigConfig returns a configuration of routes routes over services
// services, in the shape bench/bigconfig writes.
func bigConfig(routes, services int) []byte {
	var b bytes.Buffer
	b.WriteString("listeners:\n  - {name: public, listen: 127.0.0.1:0}\nservices:\n")
	for i := range services {
		fmt.Fprintf(&b, "  - {name: s%d, discovery: [{static: {instances: [{addr: 10.0.%d.%d:8080}, {addr: 10.1.%d.%d:8080}]}}]}\n",
			i, i>>8&255, i&255, i>>8&255, i&255)
	}
	b.WriteString("routes:\n")
	for i := range routes {
		fmt.Fprintf(&b, "  - {name: r%d, service: s%d, match: {path_prefix: /%d", i, i%services, i)
		if i%8 == 0 {
			fmt.Fprintf(&b, ", host: h%d.example.com", i)
		}
		if i%16 == 1 {
			b.WriteString(", methods: [GET, HEAD]")
		}
		b.WriteString("}")
		if i%32 == 2 {
			b.WriteString(", timeout: 5s, retry: {attempts: 2}")
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

// BenchmarkLoad200kRoutes measures decoding and validating a 14 MB file of
// 200,000 routes over 1,000 services (bench/bigconfig's default), what
// `duohuo validate` and a reload do with it. docs/benchmarks.md has the
// figures.
func BenchmarkLoad200kRoutes(b *testing.B) {
	data := bigConfig(200_000, 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := parse("big.yaml", data, testEnv); err != nil {
			b.Fatal(err)
		}
	}
}
