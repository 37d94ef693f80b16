package tlcp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"math/big"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Fuzz targets for the record layer and every handshake message parser.
// Run one with, for example:
//
//	go test -run '^$' -fuzz '^FuzzRecord$' -fuzztime 1000000x ./gm/tlcp

// FuzzRecord: decrypting arbitrary records never panics and fails only
// with an alert; what was encrypted decrypts to itself.
func FuzzRecord(f *testing.F) {
	f.Add([]byte{23, 1, 1, 0, 0}, []byte("hello"), uint8(0))
	f.Add([]byte{23, 1, 1, 0, 40}, bytes.Repeat([]byte{7}, 100), uint8(1))
	f.Add(make([]byte, 5+64), []byte{}, uint8(2))
	f.Fuzz(func(t *testing.T, record, data []byte, which uint8) {
		// Small records reach every branch; large ones only cost time.
		if len(record) < recordHeaderLen || len(data) > 4096 {
			return
		}
		s := suites[int(which)%len(suites)]
		key, mac, iv := make([]byte, s.keyLen), make([]byte, s.macLen), make([]byte, s.ivLen)
		r := &halfConn{cipher: s.newCipher(key, mac, iv)}
		if _, err := r.decrypt(bytes.Clone(record)); err != nil {
			var a alert
			if !errors.As(err, &a) {
				t.Fatalf("decrypt error %v is not an alert", err)
			}
		}
		w := &halfConn{cipher: s.newCipher(key, mac, iv)}
		r = &halfConn{cipher: s.newCipher(key, mac, iv)}
		rec, err := w.encrypt(nil, recordTypeApplicationData, data, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.decrypt(rec)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s round trip of %d bytes: %d bytes, %v", s.name, len(data), len(got), err)
		}
	})
}

// FuzzMessages: every handshake message parser refuses or accepts any
// input without panicking, and what it accepts marshals to a message that
// parses back to the same value.
func FuzzMessages(f *testing.F) {
	seeds := []handshakeMessage{
		&clientHelloMsg{vers: VersionTLCP, random: make([]byte, 32), sessionID: []byte{1, 2}, cipherSuites: []uint16{0xe053, 0xe013},
			compression: []uint8{0}, serverName: "gw.example", alpn: []string{"h2", "http/1.1"}},
		&serverHelloMsg{vers: VersionTLCP, random: make([]byte, 32), sessionID: make([]byte, 32), cipherSuite: 0xe051, alpn: "http/1.1"},
		&certificateMsg{certificates: [][]byte{{1, 2, 3}, {4}}},
		&serverKeyExchangeMsg{key: []byte{0, 2, 0x30, 0}},
		&certificateRequestMsg{certificateTypes: []byte{64}, certificateAuthorities: [][]byte{{0x30, 0}}},
		&serverHelloDoneMsg{},
		&clientKeyExchangeMsg{body: []byte{0, 1, 9}},
		&certificateVerifyMsg{signature: []byte{0x30, 1, 2}},
		&finishedMsg{verifyData: make([]byte, 12)},
		&helloRequestMsg{},
	}
	for _, m := range seeds {
		f.Add(m.marshal())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		m := newMessage(data[0])
		if m == nil || !m.unmarshal(data) {
			return
		}
		again := newMessage(data[0])
		if !again.unmarshal(m.marshal()) {
			t.Fatalf("%T: %x parses, its marshal %x does not", m, data, m.marshal())
		}
		if !reflect.DeepEqual(normal(m), normal(again)) {
			t.Fatalf("%T: %+v marshals and parses to %+v", m, m, again)
		}
	})
}

// normal makes empty and nil slices alike for comparison.
func normal(m handshakeMessage) handshakeMessage {
	switch m := m.(type) {
	case *clientHelloMsg:
		c := *m
		if len(c.sessionID) == 0 {
			c.sessionID = nil
		}
		return &c
	case *serverHelloMsg:
		c := *m
		if len(c.sessionID) == 0 {
			c.sessionID = nil
		}
		return &c
	case *serverKeyExchangeMsg:
		if len(m.key) == 0 {
			return &serverKeyExchangeMsg{}
		}
	case *clientKeyExchangeMsg:
		if len(m.body) == 0 {
			return &clientKeyExchangeMsg{}
		}
	}
	return m
}

// FuzzKeyExchange: the key exchange parsers take any body without a panic.
func FuzzKeyExchange(f *testing.F) {
	k, _ := sm2.GenerateKey(rand.Reader)
	cr, sr := make([]byte, 32), make([]byte, 32)
	keys, err := newECDHEKeys(k, rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	skx, _ := keys.serverKeyExchange(k, rand.Reader, cr, sr)
	_, eccCKX, _ := eccClientKeyExchange(&k.PublicKey, rand.Reader)
	_, ecdheCKX, _ := keys.clientKeyExchange(&k.PublicKey, keys.ephemeral.PublicKey())
	ske, _ := eccServerKeyExchange(k, rand.Reader, cr, sr, []byte("enc cert"))
	for _, b := range [][]byte{skx, eccCKX, ecdheCKX, ske, {0, 0}, {3, 0, 41, 1, 4}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		verifyECCServerKeyExchange(body, &k.PublicKey, cr, sr, []byte("enc cert"))
		verifyECDHEServerKeyExchange(body, &k.PublicKey, cr, sr)
		keys.serverPreMaster(&k.PublicKey, body)
		if pre, err := eccDecryptPreMaster(k, rand.Reader, body); err == nil && len(pre) != preMasterLen {
			t.Fatalf("pre-master of %d bytes", len(pre))
		}
	})
}

// fuzzConn is a net.Conn that reads a fixed input and discards writes.
type fuzzConn struct{ r io.Reader }

func (c *fuzzConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *fuzzConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *fuzzConn) Close() error                     { return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fuzzConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

var (
	fuzzCertsOnce sync.Once
	fuzzCerts     []Certificate
	fuzzPool      *smx509.CertPool
)

// fuzzConfigs returns a server and a client configuration with throwaway
// self-signed certificates.
func fuzzConfigs() (server, client *Config) {
	fuzzCertsOnce.Do(func() {
		fuzzPool = smx509.NewCertPool()
		for range 2 {
			k, _ := sm2.GenerateKey(rand.Reader)
			tmpl := &smx509.Certificate{SerialNumber: bigOne(), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
				DNSNames: []string{"fuzz"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: smx509.KeyUsageCertSign | smx509.KeyUsageDigitalSignature}
			der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
			if err != nil {
				panic(err)
			}
			leaf, _ := smx509.ParseCertificate(der)
			fuzzPool.AddCert(leaf)
			fuzzCerts = append(fuzzCerts, Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf})
		}
	})
	return &Config{Certificates: fuzzCerts, ClientAuth: VerifyClientCertIfGiven, ClientCAs: fuzzPool},
		&Config{Certificates: fuzzCerts, RootCAs: fuzzPool, ServerName: "fuzz"}
}

// transcript records what a real client and server send each other.
func transcript(f *testing.F, suite uint16) (fromClient, fromServer []byte) {
	scfg, ccfg := fuzzConfigs()
	ccfg.CipherSuites = []uint16{suite}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		f.Fatal(err)
	}
	defer a.Close()
	b, err := ln.Accept()
	if err != nil {
		f.Fatal(err)
	}
	defer b.Close()
	ra, rb := &recorder{Conn: a}, &recorder{Conn: b}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := Server(rb, scfg)
		s.SetDeadline(time.Now().Add(time.Minute))
		if err := s.Handshake(); err != nil {
			f.Error(err)
		}
		s.Close()
	}()
	c := Client(ra, ccfg)
	c.SetDeadline(time.Now().Add(time.Minute))
	if err := c.Handshake(); err != nil {
		f.Fatal(err)
	}
	c.Write([]byte("data"))
	<-done
	c.Close()
	return ra.written(), rb.written()
}

type recorder struct {
	net.Conn
	mu  sync.Mutex
	out []byte
}

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	r.out = append(r.out, b...)
	r.mu.Unlock()
	return r.Conn.Write(b)
}

func (r *recorder) written() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.out)
}

// FuzzServerHandshake feeds arbitrary bytes to a server as its client:
// records, ClientHello, Certificate, ClientKeyExchange and the rest. It
// must end with an error (or, never in practice, succeed), not panic.
func FuzzServerHandshake(f *testing.F) {
	scfg, _ := fuzzConfigs()
	for _, s := range CipherSuites() {
		fromClient, _ := transcript(f, s)
		f.Add(fromClient)
	}
	f.Add([]byte{22, 3, 1, 0, 5, 1, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		c := Server(&fuzzConn{r: bytes.NewReader(in)}, scfg)
		c.Handshake()
	})
}

// FuzzClientHandshake feeds arbitrary bytes to a client as its server.
func FuzzClientHandshake(f *testing.F) {
	_, ccfg := fuzzConfigs()
	for _, s := range CipherSuites() {
		_, fromServer := transcript(f, s)
		f.Add(fromServer)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := Client(&fuzzConn{r: bytes.NewReader(in)}, ccfg)
		c.Handshake()
	})
}

func bigOne() *big.Int { return big.NewInt(1) }
