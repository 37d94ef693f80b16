package static_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/duohuo/duohuo/discovery/static"
)

// bigInstances returns an instances file of n instances of one service, in
// the shape bench/bigconfig -instances writes.
func bigInstances(n int) []byte {
	var b bytes.Buffer
	b.WriteString("instances:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {addr: 10.%d.%d.%d:8080, weight: %d, cloud: c%d, region: r%d, zone: z%d, labels: {version: v%d}}\n",
			i>>16&255, i>>8&255, i&255, 100+i%10, i%3, i%6, i%12, i%2)
	}
	return b.Bytes()
}

// BenchmarkParse100kInstances measures reading an instances file of
// 100,000 instances (10 MB), what a file discovery source does on every
// change. docs/benchmarks.md has the figures.
func BenchmarkParse100kInstances(b *testing.B) {
	data := bigInstances(100_000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		m, err := static.Parse("instances.yaml", data, "api")
		if err != nil {
			b.Fatal(err)
		}
		if len(m["api"]) != 100_000 {
			b.Fatalf("parsed %d instances, want 100000", len(m["api"]))
		}
	}
}
