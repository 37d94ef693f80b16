package audit_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/duohuo/duohuo/audit"
	"github.com/duohuo/duohuo/gm"
)

// BenchmarkAppend measures the cost on the caller's path (the RPC path):
// queueing one record. The writer goroutine runs concurrently; records it
// cannot keep up with are dropped, as in production.
func BenchmarkAppend(b *testing.B) {
	l, err := audit.Open(filepath.Join(b.TempDir(), "a.jsonl"), audit.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	r := rec(1)
	b.ReportAllocs()
	for b.Loop() {
		l.Append(r)
	}
	b.StopTimer()
	l.Close()
	s := l.Stats()
	b.ReportMetric(float64(s.Dropped)/float64(s.Written+s.Dropped)*100, "%dropped")
}

// BenchmarkVerify measures verification throughput of a 1000-record log:
// clear, sealed at rest checked without the keys, and sealed with every
// record opened.
func BenchmarkVerify(b *testing.B) {
	keys, err := gm.ParseKeyRing("1:000102030405060708090a0b0c0d0e0f")
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		write, open *gm.KeyRing
	}{{"clear", nil, nil}, {"sealed", keys, nil}, {"sealed-opened", keys, keys}} {
		b.Run(tc.name, func(b *testing.B) {
			path, _ := writeLog(b, 1000, audit.Options{NoSync: true, AtRest: tc.write})
			data, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := audit.Verify(bytes.NewReader(data), audit.VerifyOptions{AtRest: tc.open}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRedact(b *testing.B) {
	r := audit.DefaultRedactor()
	for _, key := range []string{"/duohuo/lock/orders/694d8f3a", "/config/db/password"} {
		b.Run(key, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.Redact(key)
			}
		})
	}
}
