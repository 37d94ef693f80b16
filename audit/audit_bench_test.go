package audit_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/duohuo/duohuo/audit"
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

// BenchmarkVerify measures verification throughput of a 1000-record log.
func BenchmarkVerify(b *testing.B) {
	path, _ := writeLog(b, 1000, audit.Options{NoSync: true})
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := audit.Verify(bytes.NewReader(data), audit.VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
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
