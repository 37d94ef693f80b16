package tlcp

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emmansun/gmsm/smx509"
)

// Record content types (GB/T 38636-2020, section 6.3.3.2).
type recordType uint8

const (
	recordTypeChangeCipherSpec recordType = 20
	recordTypeAlert            recordType = 21
	recordTypeHandshake        recordType = 22
	recordTypeApplicationData  recordType = 23
)

const (
	recordHeaderLen = 5
	maxPlaintext    = 1 << 14
	maxCiphertext   = maxPlaintext + 2048
	// maxHandshake bounds one handshake message; a certificate chain of
	// a few SM2 certificates is far below it.
	maxHandshake = 1 << 16
	// maxUselessRecords bounds the empty or warning records in a row, so
	// that a peer cannot keep a reader spinning.
	maxUselessRecords = 16
)

// Conn is a TLCP connection over a net.Conn. Read and Write may be called
// concurrently with each other, not with themselves; Close may be called
// at any time and makes blocked calls return. The handshake runs on the
// first Read or Write unless [Conn.Handshake] is called first.
type Conn struct {
	conn     net.Conn
	isClient bool
	config   *Config

	handshakeMutex sync.Mutex
	handshakeErr   error       // the handshake's result, guarded by handshakeMutex
	complete       atomic.Bool // the handshake has succeeded

	// Set during the handshake under handshakeMutex, read-only after.
	vers             uint16
	haveVers         bool
	suite            *suite
	didResume        bool
	serverName       string
	alpn             string
	peerCertificates []*smx509.Certificate
	verifiedChains   [][]*smx509.Certificate

	in, out halfConn

	// Guarded by in.
	rawInput  bytes.Buffer // bytes read from conn, not yet a whole record
	input     bytes.Reader // application data of the current record
	hand      bytes.Buffer // handshake bytes not yet read as messages
	retries   int          // useless records in a row
	sendBuf   []byte       // a handshake flight, guarded by out
	buffering bool         // guarded by out

	// activeCall counts Writes in flight; bit 0 is set once Close runs.
	activeCall atomic.Int32
	// closeNotifySent is guarded by out.
	closeNotifySent bool
}

// halfConn is one direction of the record layer.
type halfConn struct {
	sync.Mutex
	err        error // sticky error
	seq        [8]byte
	cipher     recordCipher
	nextCipher recordCipher
	buf        []byte   // the record being written (out only), reused
	hdr        [13]byte // MAC or AEAD header, kept here so it is not allocated
	mac        [32]byte // the MAC computed of a CBC record
}

func (hc *halfConn) setErrorLocked(err error) error {
	if hc.err == nil {
		hc.err = err
	}
	return err
}

func (hc *halfConn) changeCipherSpec() error {
	if hc.nextCipher == nil {
		return alertInternalError
	}
	hc.cipher, hc.nextCipher = hc.nextCipher, nil
	clear(hc.seq[:])
	return nil
}

func (hc *halfConn) incSeq() {
	for i := 7; i >= 0; i-- {
		hc.seq[i]++
		if hc.seq[i] != 0 {
			return
		}
	}
	// 2^64 records: the standard forbids wrapping and so do we.
	panic("tlcp: sequence number wraparound")
}

// decrypt checks and decrypts one record in place, returning its content.
func (hc *halfConn) decrypt(record []byte) ([]byte, error) {
	typ := record[0]
	payload := record[recordHeaderLen:]
	switch c := hc.cipher.(type) {
	case nil:
		return payload, nil
	case *gcmCipher:
		explicit := 8
		if len(payload) < explicit+c.aead.Overhead() {
			return nil, alertBadRecordMAC
		}
		copy(c.nonce[4:], payload[:explicit])
		ad := &hc.hdr
		copy(ad[:8], hc.seq[:])
		ad[8] = typ
		ad[9], ad[10] = record[1], record[2]
		n := len(payload) - explicit - c.aead.Overhead()
		ad[11], ad[12] = byte(n>>8), byte(n)
		out, err := c.aead.Open(payload[explicit:explicit], c.nonce[:], payload[explicit:], ad[:])
		if err != nil {
			return nil, alertBadRecordMAC
		}
		hc.incSeq()
		return out, nil
	case *cbcCipher:
		bs := c.block.BlockSize()
		macSize := c.mac.Size()
		minLen := bs + (macSize+1+bs-1)/bs*bs
		if len(payload)%bs != 0 || len(payload) < minLen {
			return nil, alertBadRecordMAC
		}
		iv := payload[:bs]
		payload = payload[bs:]
		cipher.NewCBCDecrypter(c.block, iv).CryptBlocks(payload, payload)
		toRemove, good := extractPadding(payload)
		// Padding and MAC failures give the same alert, and the MAC is
		// computed over the same number of blocks whatever the padding
		// said (RFC 5246, section 6.2.3.2; Lucky Thirteen).
		n := len(payload) - macSize - toRemove
		n = subtle.ConstantTimeSelect(int(uint32(n)>>31), 0, n)
		hdr := &hc.hdr
		copy(hdr[:8], hc.seq[:])
		hdr[8] = typ
		hdr[9], hdr[10] = record[1], record[2]
		hdr[11], hdr[12] = byte(n>>8), byte(n)
		remoteMAC := payload[n : n+macSize]
		c.mac.Reset()
		c.mac.Write(hdr[:])
		c.mac.Write(payload[:n])
		localMAC := c.mac.Sum(hc.mac[:0])
		c.mac.Write(payload[n:]) // equalise the work; the result is unused
		if subtle.ConstantTimeCompare(localMAC, remoteMAC)&int(good) != 1 {
			return nil, alertBadRecordMAC
		}
		hc.incSeq()
		return payload[:n], nil
	}
	return nil, alertInternalError
}

// extractPadding returns, in constant time, how many bytes of padding and
// padding length end payload, and 255 when the padding is well formed
// (all its bytes equal to its length) or 0 when it is not.
func extractPadding(payload []byte) (toRemove int, good byte) {
	if len(payload) < 1 {
		return 0, 0
	}
	padLen := payload[len(payload)-1]
	t := uint(len(payload)-1) - uint(padLen)
	good = byte(int32(^t) >> 31) // 255 when padLen < len(payload)
	toCheck := min(256, len(payload))
	for i := range toCheck {
		t := uint(padLen) - uint(i)
		mask := byte(int32(^t) >> 31) // 255 when i <= padLen
		b := payload[len(payload)-1-i]
		good &^= mask&padLen ^ mask&b
	}
	// Collapse good to all ones or all zeros.
	good &= good << 4
	good &= good << 2
	good &= good << 1
	good = uint8(int8(good) >> 7)
	padLen &= good
	return int(padLen) + 1, good
}

// encrypt appends the record of typ and data to out.
func (hc *halfConn) encrypt(out []byte, typ recordType, data []byte, rand io.Reader) ([]byte, error) {
	start := len(out)
	out = append(out, byte(typ), byte(VersionTLCP>>8), byte(VersionTLCP&0xff), 0, 0)
	switch c := hc.cipher.(type) {
	case nil:
		out = append(out, data...)
	case *gcmCipher:
		explicit := hc.seq[:]
		copy(c.nonce[4:], explicit)
		out = append(out, explicit...)
		ad := &hc.hdr
		copy(ad[:8], hc.seq[:])
		ad[8] = byte(typ)
		ad[9], ad[10] = byte(VersionTLCP>>8), byte(VersionTLCP&0xff)
		ad[11], ad[12] = byte(len(data)>>8), byte(len(data))
		out = c.aead.Seal(out, c.nonce[:], data, ad[:])
		hc.incSeq()
	case *cbcCipher:
		bs := c.block.BlockSize()
		ivStart := len(out)
		out = slices.Grow(out, bs+len(data)+c.mac.Size()+bs)
		out = out[:ivStart+bs]
		if _, err := io.ReadFull(rand, out[ivStart:]); err != nil {
			return nil, err
		}
		hdr := &hc.hdr
		copy(hdr[:8], hc.seq[:])
		hdr[8] = byte(typ)
		hdr[9], hdr[10] = byte(VersionTLCP>>8), byte(VersionTLCP&0xff)
		hdr[11], hdr[12] = byte(len(data)>>8), byte(len(data))
		c.mac.Reset()
		c.mac.Write(hdr[:])
		c.mac.Write(data)
		plainStart := len(out)
		out = append(out, data...)
		out = c.mac.Sum(out)
		padLen := bs - (len(out)-plainStart)%bs // 1..bs bytes, each padLen-1
		for range padLen {
			out = append(out, byte(padLen-1))
		}
		cipher.NewCBCEncrypter(c.block, out[ivStart:plainStart]).CryptBlocks(out[plainStart:], out[plainStart:])
		hc.incSeq()
	default:
		return nil, alertInternalError
	}
	n := len(out) - start - recordHeaderLen
	out[start+3], out[start+4] = byte(n>>8), byte(n)
	return out, nil
}

// readFromUntil reads from r into c.rawInput until it holds n bytes.
func (c *Conn) readFromUntil(n int) error {
	if c.rawInput.Len() >= n {
		return nil
	}
	need := n - c.rawInput.Len()
	c.rawInput.Grow(need + bytes.MinRead)
	_, err := c.rawInput.ReadFrom(&atLeastReader{c.conn, int64(need)})
	return err
}

// atLeastReader reads from R and stops with io.EOF after N bytes.
type atLeastReader struct {
	R io.Reader
	N int64
}

func (r *atLeastReader) Read(p []byte) (int, error) {
	if r.N <= 0 {
		return 0, io.EOF
	}
	n, err := r.R.Read(p)
	r.N -= int64(n)
	if r.N > 0 && err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	if r.N <= 0 && err == nil {
		return n, io.EOF
	}
	return n, err
}

func (c *Conn) readRecord() error { return c.readRecordOrCCS(false) }

func (c *Conn) readChangeCipherSpec() error { return c.readRecordOrCCS(true) }

// readRecordOrCCS reads one record: application data into c.input,
// handshake data into c.hand, and handles alerts and ChangeCipherSpec.
// Called with c.in held.
func (c *Conn) readRecordOrCCS(expectCCS bool) error {
	if c.in.err != nil {
		return c.in.err
	}
	complete := c.complete.Load()
	if c.input.Len() != 0 {
		return c.in.setErrorLocked(errors.New("tlcp: internal error: record read with application data pending"))
	}
	c.input.Reset(nil)

	if err := c.readFromUntil(recordHeaderLen); err != nil {
		// A deadline is not the end of the connection; anything else is.
		if e, ok := err.(net.Error); !ok || !e.Timeout() {
			if err == io.ErrUnexpectedEOF && c.rawInput.Len() == 0 {
				err = io.EOF
			}
			c.in.setErrorLocked(err)
		}
		return err
	}
	hdr := c.rawInput.Bytes()[:recordHeaderLen]
	typ := recordType(hdr[0])
	vers := uint16(hdr[1])<<8 | uint16(hdr[2])
	n := int(hdr[3])<<8 | int(hdr[4])
	if !c.haveVers {
		// The first record: a peer that is not TLCP at all (TLS sends
		// 0x03xx, HTTP sends text) is told so and refused.
		if typ != recordTypeHandshake && typ != recordTypeAlert || hdr[1] != 0x01 {
			c.sendAlert(alertProtocolVersion)
			return c.in.setErrorLocked(fmt.Errorf("%w: first record type %d version %#04x", ErrNotTLCP, typ, vers))
		}
	} else if vers != VersionTLCP {
		c.sendAlert(alertProtocolVersion)
		return c.in.setErrorLocked(fmt.Errorf("tlcp: record version %#04x, want %#04x", vers, VersionTLCP))
	}
	if n > maxCiphertext {
		c.sendAlert(alertRecordOverflow)
		return c.in.setErrorLocked(fmt.Errorf("tlcp: record of %d bytes, more than %d", n, maxCiphertext))
	}
	if err := c.readFromUntil(recordHeaderLen + n); err != nil {
		if e, ok := err.(net.Error); !ok || !e.Timeout() {
			c.in.setErrorLocked(err)
		}
		return err
	}
	record := c.rawInput.Next(recordHeaderLen + n)
	data, err := c.in.decrypt(record)
	if err != nil {
		return c.in.setErrorLocked(c.sendAlert(err.(alert)))
	}
	if len(data) > maxPlaintext {
		return c.in.setErrorLocked(c.sendAlert(alertRecordOverflow))
	}
	if c.in.cipher == nil && typ == recordTypeApplicationData {
		return c.in.setErrorLocked(c.sendAlert(alertUnexpectedMessage))
	}
	if typ != recordTypeAlert && typ != recordTypeChangeCipherSpec && len(data) > 0 {
		c.retries = 0
	}

	switch typ {
	case recordTypeAlert:
		if len(data) != 2 {
			return c.in.setErrorLocked(c.sendAlert(alertUnexpectedMessage))
		}
		if alert(data[1]) == alertCloseNotify {
			return c.in.setErrorLocked(io.EOF)
		}
		if data[0] == alertLevelWarning {
			return c.retryReadRecord(expectCCS)
		}
		return c.in.setErrorLocked(&AlertError{Alert: data[1], Remote: true})
	case recordTypeChangeCipherSpec:
		if len(data) != 1 || data[0] != 1 {
			return c.in.setErrorLocked(c.sendAlert(alertDecodeError))
		}
		if !expectCCS || c.hand.Len() > 0 {
			return c.in.setErrorLocked(c.sendAlert(alertUnexpectedMessage))
		}
		if err := c.in.changeCipherSpec(); err != nil {
			return c.in.setErrorLocked(c.sendAlert(err.(alert)))
		}
	case recordTypeApplicationData:
		if !complete || expectCCS {
			return c.in.setErrorLocked(c.sendAlert(alertUnexpectedMessage))
		}
		if len(data) == 0 {
			return c.retryReadRecord(expectCCS)
		}
		c.input.Reset(data)
	case recordTypeHandshake:
		if len(data) == 0 || expectCCS {
			return c.in.setErrorLocked(c.sendAlert(alertUnexpectedMessage))
		}
		c.hand.Write(data)
	default:
		return c.in.setErrorLocked(c.sendAlert(alertUnexpectedMessage))
	}
	return nil
}

func (c *Conn) retryReadRecord(expectCCS bool) error {
	c.retries++
	if c.retries > maxUselessRecords {
		c.sendAlert(alertUnexpectedMessage)
		return c.in.setErrorLocked(errors.New("tlcp: too many ignored records"))
	}
	return c.readRecordOrCCS(expectCCS)
}

// sendAlert sends an alert; a fatal one also breaks the write side. It
// returns the error the connection now has.
func (c *Conn) sendAlert(err alert) error {
	c.out.Lock()
	defer c.out.Unlock()
	return c.sendAlertLocked(err)
}

func (c *Conn) sendAlertLocked(err alert) error {
	level := byte(alertLevelError)
	if err == alertCloseNotify {
		level = alertLevelWarning
	}
	return c.sendAlertLevelLocked(level, err)
}

func (c *Conn) sendAlertLevelLocked(level byte, err alert) error {
	if c.out.err != nil {
		return err
	}
	_, writeErr := c.writeRecordLocked(recordTypeAlert, []byte{level, byte(err)})
	if flushErr := c.flushLocked(); writeErr == nil {
		writeErr = flushErr
	}
	if level == alertLevelWarning {
		return writeErr
	}
	return c.out.setErrorLocked(&AlertError{Alert: uint8(err)})
}

// writeRecordLocked writes data as records of typ. Called with c.out held.
func (c *Conn) writeRecordLocked(typ recordType, data []byte) (int, error) {
	var n int
	for len(data) > 0 {
		m := min(len(data), maxPlaintext)
		rec, err := c.out.encrypt(c.out.buf[:0], typ, data[:m], c.config.rand())
		if err != nil {
			return n, c.out.setErrorLocked(err)
		}
		c.out.buf = rec
		if err := c.writeLocked(rec); err != nil {
			return n, err
		}
		n += m
		data = data[m:]
	}
	if typ == recordTypeChangeCipherSpec {
		if err := c.out.changeCipherSpec(); err != nil {
			return n, c.out.setErrorLocked(err)
		}
	}
	return n, nil
}

func (c *Conn) writeLocked(b []byte) error {
	if c.buffering {
		c.sendBuf = append(c.sendBuf, b...)
		return nil
	}
	if _, err := c.conn.Write(b); err != nil {
		// A record cut short cannot be resumed.
		return c.out.setErrorLocked(err)
	}
	return nil
}

func (c *Conn) flushLocked() error {
	if len(c.sendBuf) == 0 {
		return nil
	}
	_, err := c.conn.Write(c.sendBuf)
	c.sendBuf = nil
	c.buffering = false
	if err != nil {
		return c.out.setErrorLocked(err)
	}
	return nil
}

// writeHandshake writes one handshake message, adding it to the transcript.
func (c *Conn) writeHandshake(msg handshakeMessage, fh *finishedHash) error {
	c.out.Lock()
	defer c.out.Unlock()
	b := msg.marshal()
	if fh != nil {
		fh.Write(b)
	}
	c.buffering = true
	_, err := c.writeRecordLocked(recordTypeHandshake, b)
	return err
}

func (c *Conn) writeChangeCipherSpec() error {
	c.out.Lock()
	defer c.out.Unlock()
	c.buffering = true
	_, err := c.writeRecordLocked(recordTypeChangeCipherSpec, []byte{1})
	return err
}

func (c *Conn) flush() error {
	c.out.Lock()
	defer c.out.Unlock()
	return c.flushLocked()
}

// readHandshake reads one handshake message and returns it with its bytes
// (for the transcript). Called with c.in held.
func (c *Conn) readHandshake() (handshakeMessage, []byte, error) {
	for c.hand.Len() < 4 {
		if err := c.readRecord(); err != nil {
			return nil, nil, err
		}
	}
	data := c.hand.Bytes()
	n := int(data[1])<<16 | int(data[2])<<8 | int(data[3])
	if n > maxHandshake {
		c.sendAlert(alertInternalError)
		return nil, nil, c.in.setErrorLocked(fmt.Errorf("tlcp: handshake message of %d bytes, more than %d", n, maxHandshake))
	}
	for c.hand.Len() < 4+n {
		if err := c.readRecord(); err != nil {
			return nil, nil, err
		}
	}
	data = bytes.Clone(c.hand.Next(4 + n))
	msg := newMessage(data[0])
	if msg == nil {
		return nil, nil, c.in.setErrorLocked(c.sendAlert(alertUnexpectedMessage))
	}
	if !msg.unmarshal(data) {
		return nil, nil, c.in.setErrorLocked(c.sendAlert(alertDecodeError))
	}
	return msg, data, nil
}

// unexpected reports a message other than the one the handshake needs.
func (c *Conn) unexpected(got handshakeMessage, want string) error {
	c.sendAlert(alertUnexpectedMessage)
	return fmt.Errorf("tlcp: received %T, want %s", got, want)
}

// Read reads application data, running the handshake first if needed.
// A peer's close_notify makes it return io.EOF. It honours the read
// deadline of [Conn.SetReadDeadline]; after a timeout it may be retried.
func (c *Conn) Read(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, nil
	}
	c.in.Lock()
	defer c.in.Unlock()
	for c.input.Len() == 0 {
		if err := c.readRecord(); err != nil {
			return 0, err
		}
		for c.hand.Len() > 0 {
			if err := c.handlePostHandshake(); err != nil {
				return 0, err
			}
		}
	}
	n, _ := c.input.Read(b)
	return n, nil
}

// handlePostHandshake refuses renegotiation: a client answers the
// server's HelloRequest with a no_renegotiation warning; anything else
// after the handshake is fatal.
func (c *Conn) handlePostHandshake() error {
	msg, _, err := c.readHandshake()
	if err != nil {
		return err
	}
	if _, ok := msg.(*helloRequestMsg); ok && c.isClient {
		c.out.Lock()
		defer c.out.Unlock()
		return c.sendAlertLevelLocked(alertLevelWarning, alertNoRenegotiation)
	}
	return c.in.setErrorLocked(c.sendAlert(alertNoRenegotiation))
}

var errShutdown = errors.New("tlcp: protocol is shutdown")

// Write writes application data, running the handshake first if needed.
// It honours the write deadline; a timeout breaks the connection, as a
// record may have been cut.
func (c *Conn) Write(b []byte) (int, error) {
	for {
		x := c.activeCall.Load()
		if x&1 != 0 {
			return 0, net.ErrClosed
		}
		if c.activeCall.CompareAndSwap(x, x+2) {
			break
		}
	}
	defer c.activeCall.Add(-2)
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	c.out.Lock()
	defer c.out.Unlock()
	if err := c.out.err; err != nil {
		return 0, err
	}
	if c.closeNotifySent {
		return 0, errShutdown
	}
	return c.writeRecordLocked(recordTypeApplicationData, b)
}

// Close sends close_notify (when the handshake is done) and closes the
// connection. A Close during a Write closes at once without the alert.
func (c *Conn) Close() error {
	var x int32
	for {
		x = c.activeCall.Load()
		if x&1 != 0 {
			return net.ErrClosed
		}
		if c.activeCall.CompareAndSwap(x, x|1) {
			break
		}
	}
	if x != 0 {
		return c.conn.Close()
	}
	var alertErr error
	if c.complete.Load() {
		if err := c.closeNotify(); err != nil {
			alertErr = fmt.Errorf("tlcp: close_notify not sent, connection closed anyway: %w", err)
		}
	}
	if err := c.conn.Close(); err != nil {
		return err
	}
	return alertErr
}

// CloseWrite sends close_notify and makes further Writes fail; the peer
// reads io.EOF. The connection stays open for reading.
func (c *Conn) CloseWrite() error {
	if !c.complete.Load() {
		return errEarlyCloseWrite
	}
	return c.closeNotify()
}

var errEarlyCloseWrite = errors.New("tlcp: CloseWrite called before the handshake finished")

func (c *Conn) closeNotify() error {
	c.out.Lock()
	defer c.out.Unlock()
	if c.closeNotifySent {
		return nil
	}
	// Do not let a peer that stopped reading hold Close forever.
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	err := c.sendAlertLocked(alertCloseNotify)
	c.closeNotifySent = true
	c.conn.SetWriteDeadline(time.Now())
	return err
}

// Handshake runs the handshake if it has not run yet. Most callers need not
// call it: Read and Write do. It honours the connection's deadlines.
func (c *Conn) Handshake() error { return c.HandshakeContext(context.Background()) }

// HandshakeContext is [Conn.Handshake] bounded by ctx: when ctx ends first,
// the connection is closed and ctx's error returned.
func (c *Conn) HandshakeContext(ctx context.Context) (err error) {
	if c.complete.Load() {
		return nil
	}
	if ctx.Done() != nil {
		interrupted := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			c.conn.Close()
			close(interrupted)
		})
		defer func() {
			if !stop() {
				<-interrupted
				err = ctx.Err()
			}
		}()
	}
	c.handshakeMutex.Lock()
	defer c.handshakeMutex.Unlock()
	if err := c.handshakeErr; err != nil {
		return err
	}
	if c.complete.Load() {
		return nil
	}
	c.in.Lock()
	defer c.in.Unlock()
	if c.isClient {
		c.handshakeErr = c.clientHandshake()
	} else {
		c.handshakeErr = c.serverHandshake()
	}
	if c.handshakeErr != nil {
		c.flush()
		return c.handshakeErr
	}
	c.complete.Store(true)
	return nil
}

// ConnectionState returns the state of the connection; before the
// handshake is done only Version is set.
func (c *Conn) ConnectionState() ConnectionState {
	c.handshakeMutex.Lock()
	defer c.handshakeMutex.Unlock()
	st := ConnectionState{Version: VersionTLCP, HandshakeComplete: c.complete.Load()}
	if !st.HandshakeComplete {
		return st
	}
	st.DidResume = c.didResume
	st.CipherSuite = c.suite.id
	st.NegotiatedProtocol = c.alpn
	st.ServerName = c.serverName
	st.PeerCertificates = c.peerCertificates
	st.VerifiedChains = c.verifiedChains
	return st
}

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the read and write deadlines of the connection, which
// bound the handshake too. A zero value means none.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline. A Write that times out breaks
// the connection.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// NetConn returns the underlying connection. Writing to it or reading from
// it corrupts the TLCP session.
func (c *Conn) NetConn() net.Conn { return c.conn }

var _ net.Conn = (*Conn)(nil)
