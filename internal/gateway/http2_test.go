package gateway_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// serverCert writes p's server certificate and key as PEM files and
// returns their paths.
func serverCert(t *testing.T, p *testPKI) (certFile, keyFile string) {
	t.Helper()
	kb, err := x509.MarshalPKCS8PrivateKey(p.server.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(p.dir, "server.pem"), filepath.Join(p.dir, "server-key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.server.Certificate[0]}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// h2Listeners starts a gateway with an h2c listener and a TLS one before a
// counting backend, and returns their addresses and the client TLS config.
func h2Listeners(t *testing.T) (h2c, h2 string, tlsCfg *tls.Config) {
	t.Helper()
	back, _ := countingBackend(t)
	p := newPKI(t)
	certFile, keyFile := serverCert(t, p)
	cfg := fmt.Sprintf(`
listeners:
  - {name: h2c, listen: "127.0.0.1:0", http2_max_concurrent_streams: 32}
  - {name: h2, listen: "127.0.0.1:0", http2_max_concurrent_streams: 32, tls: {cert_file: %s, key_file: %s}}
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: all, service: api}]
`, certFile, keyFile, back)
	g := start(t, parse(t, cfg), "")
	t.Cleanup(func() { g.Shutdown(t.Context()) })
	return g.Addrs()[0], g.Addrs()[1], &tls.Config{RootCAs: p.ca, ServerName: "api.internal", NextProtos: []string{"h2"}}
}

// rawH2 is an HTTP/2 client connection driven frame by frame; a goroutine
// reads and counts what the server sends until the connection ends.
type rawH2 struct {
	c        net.Conn
	fr       *http2.Framer
	mu       sync.Mutex // guards settings
	goaway   atomic.Bool
	ended    chan struct{} // closed when the server's side ended
	settings map[http2.SettingID]uint32
}

func dialH2(t *testing.T, addr string, tlsCfg *tls.Config) *rawH2 {
	t.Helper()
	var c net.Conn
	var err error
	if tlsCfg != nil {
		c, err = tls.Dial("tcp", addr, tlsCfg)
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	r := &rawH2{c: c, ended: make(chan struct{}), settings: map[http2.SettingID]uint32{}}
	t.Cleanup(func() { c.Close(); <-r.ended })
	io.WriteString(c, http2.ClientPreface)
	r.fr = http2.NewFramer(c, c)
	r.fr.WriteSettings()
	rd := http2.NewFramer(io.Discard, c)
	go func() {
		defer close(r.ended)
		for {
			f, err := rd.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.GoAwayFrame:
				r.goaway.Store(true)
			case *http2.SettingsFrame:
				r.mu.Lock()
				f.ForeachSetting(func(s http2.Setting) error { r.settings[s.ID] = s.Val; return nil })
				r.mu.Unlock()
			}
		}
	}()
	return r
}

func requestBlock(path string) []byte {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", path}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return b.Bytes()
}

// bystanders sends n requests from 4 other clients of addr and returns how
// many were answered 200.
func bystanders(t *testing.T, addr string, tlsCfg *tls.Config, n int) int {
	tr := &http.Transport{Protocols: new(http.Protocols), TLSClientConfig: tlsCfg}
	scheme := "https"
	if tlsCfg == nil {
		tr.Protocols.SetUnencryptedHTTP2(true)
		scheme = "http"
	} else {
		tr.Protocols.SetHTTP2(true)
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / 4 {
				resp, err := client.Get(scheme + "://" + addr + "/ok")
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(ok.Load())
}

func TestHTTP2FloodsAreBounded(t *testing.T) {
	h2c, h2, tlsCfg := h2Listeners(t)
	for _, l := range []struct {
		name string
		addr string
		tls  *tls.Config
	}{{"h2c", h2c, nil}, {"h2", h2, tlsCfg}} {
		t.Run(l.name+"/settings", func(t *testing.T) {
			r := dialH2(t, l.addr, l.tls)
			eventually(t, "the server's SETTINGS", 10*time.Millisecond, func() bool {
				r.mu.Lock()
				defer r.mu.Unlock()
				return len(r.settings) > 0
			})
			r.mu.Lock()
			defer r.mu.Unlock()
			if got := r.settings[http2.SettingMaxConcurrentStreams]; got != 32 {
				t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS = %d, want 32", got)
			}
			if got := r.settings[http2.SettingMaxHeaderListSize]; got == 0 || got > 128<<10 {
				t.Errorf("SETTINGS_MAX_HEADER_LIST_SIZE = %d, want about max_header_bytes (64 KiB)", got)
			}
		})
		t.Run(l.name+"/rapid reset", func(t *testing.T) {
			r := dialH2(t, l.addr, l.tls)
			attack := make(chan int)
			go func() {
				sent := 0
				for id := uint32(1); id < 2*20000; id += 2 {
					if r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: requestBlock("/reset"), EndStream: true, EndHeaders: true}) != nil ||
						r.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
						break
					}
					sent++
				}
				attack <- sent
			}()
			const n = 200
			ok := bystanders(t, l.addr, l.tls, n)
			<-attack
			if ok < n*99/100 {
				t.Errorf("%d of %d requests of other clients answered during a rapid-reset flood, want at least 99%%", ok, n)
			}
			if ok := bystanders(t, l.addr, l.tls, 8); ok != 8 {
				t.Errorf("after the flood: %d of 8 answered", ok)
			}
		})
		t.Run(l.name+"/CONTINUATION flood", func(t *testing.T) {
			r := dialH2(t, l.addr, l.tls)
			var b bytes.Buffer
			enc := hpack.NewEncoder(&b)
			enc.WriteField(hpack.HeaderField{Name: "x-flood", Value: strings.Repeat("a", 8<<10)})
			frag := b.Bytes()
			attack := make(chan bool)
			go func() {
				err := r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: requestBlock("/cont"), EndHeaders: false})
				for i := 0; err == nil && i < 2000; i++ { // 16 MB at most
					err = r.fr.WriteContinuation(1, false, frag)
				}
				attack <- err != nil
			}()
			const n = 200
			ok := bystanders(t, l.addr, l.tls, n)
			select {
			case <-r.ended:
			case <-time.After(30 * time.Second):
				t.Fatal("the server kept a connection whose header block never ends")
			}
			<-attack
			if ok < n*99/100 {
				t.Errorf("%d of %d requests of other clients answered during a CONTINUATION flood, want at least 99%%", ok, n)
			}
		})
	}
}
