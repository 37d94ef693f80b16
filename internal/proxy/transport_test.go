package proxy

import (
	"testing"
	"time"
)

func TestNewTransportDefaultsAndOptions(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		opts                 TransportOptions
		wantIdle, wantRead   int
		wantIdleConnTimeout  time.Duration
		wantHeaderTimeoutSet bool
	}{
		{"zero options keep 256 idle connections per instance and read 8 KiB at a time", TransportOptions{}, 256, 8 << 10, 90 * time.Second, false},
		{"options given are used as given", TransportOptions{MaxIdleConnsPerInstance: 8, ReadBufferSize: 64 << 10, IdleConnTimeout: time.Second, ResponseHeaderTimeout: time.Second}, 8, 64 << 10, time.Second, true},
	} {
		tr := NewTransport(tc.opts)
		if tr.MaxIdleConnsPerHost != tc.wantIdle || tr.ReadBufferSize != tc.wantRead || tr.IdleConnTimeout != tc.wantIdleConnTimeout ||
			(tr.ResponseHeaderTimeout != 0) != tc.wantHeaderTimeoutSet || !tr.DisableCompression {
			t.Errorf("%s: NewTransport(%+v) = idle %d, read buffer %d, idle timeout %v, header timeout %v, no compression %v; want %d, %d, %v, set %v, true",
				tc.name, tc.opts, tr.MaxIdleConnsPerHost, tr.ReadBufferSize, tr.IdleConnTimeout, tr.ResponseHeaderTimeout, tr.DisableCompression,
				tc.wantIdle, tc.wantRead, tc.wantIdleConnTimeout, tc.wantHeaderTimeoutSet)
		}
	}
}
