package tlcp

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/emmansun/gmsm/smx509"
)

func (c *Conn) serverHandshake() error {
	cfg := c.config
	if len(cfg.Certificates) < 2 {
		return errors.New("tlcp: a server needs a signing and an encryption certificate (Config.Certificates)")
	}
	sign, enc := &cfg.Certificates[0], &cfg.Certificates[1]
	if len(sign.Certificate) == 0 || len(enc.Certificate) == 0 {
		return errors.New("tlcp: a server certificate has an empty chain")
	}

	msg, raw, err := c.readHandshake()
	if err != nil {
		return err
	}
	ch, ok := msg.(*clientHelloMsg)
	if !ok {
		return c.unexpected(msg, "ClientHello")
	}
	if ch.vers>>8 != 0x01 || ch.vers < VersionTLCP {
		c.sendAlert(alertProtocolVersion)
		return fmt.Errorf("%w: client offers version %#04x", ErrNotTLCP, ch.vers)
	}
	c.vers, c.haveVers = VersionTLCP, true
	if !slices.Contains(ch.compression, 0) {
		c.sendAlert(alertDecodeError)
		return errors.New("tlcp: client offers no null compression")
	}
	c.serverName = ch.serverName

	if len(cfg.NextProtos) > 0 && len(ch.alpn) > 0 {
		for _, p := range cfg.NextProtos {
			if slices.Contains(ch.alpn, p) {
				c.alpn = p
				break
			}
		}
		if c.alpn == "" {
			c.sendAlert(alertNoApplicationProtocol)
			return fmt.Errorf("tlcp: client offers ALPN %q, none of %q", ch.alpn, cfg.NextProtos)
		}
	}

	// The suites both sides allow; ECDHE only when a client certificate is
	// asked for, since it cannot run without one (GB/T 38636-2020, 6.4.5.8).
	usable := func(id uint16) bool {
		s := suiteByID(id)
		return s != nil && (!s.ecdhe || cfg.ClientAuth != NoClientCert)
	}
	mine, theirs := cfg.cipherSuites(), ch.cipherSuites
	if cfg.PreferClientCipherSuites {
		mine, theirs = theirs, mine
	}
	for _, id := range mine {
		if usable(id) && slices.Contains(theirs, id) {
			c.suite = suiteByID(id)
			break
		}
	}
	if c.suite == nil {
		c.sendAlert(alertHandshakeFailure)
		return fmt.Errorf("tlcp: no common cipher suite: client offers %s", suiteNames(ch.cipherSuites))
	}

	random, err := helloRandom(cfg)
	if err != nil {
		return err
	}
	hello := &serverHelloMsg{vers: VersionTLCP, random: random, alpn: c.alpn}
	fh := newFinishedHash()
	fh.Write(raw)

	cache := cfg.sessionCache()
	if cache != nil && len(ch.sessionID) > 0 {
		if s, ok := cache.get(string(ch.sessionID)); ok && c.canResume(s, ch) {
			c.suite = suiteByID(s.suite)
			c.didResume = true
			c.peerCertificates, c.verifiedChains = s.peerCerts, s.verifiedChains
			hello.sessionID = s.id
			hello.cipherSuite = s.suite
			if err := c.writeHandshake(hello, &fh); err != nil {
				return err
			}
			c.setKeys(s.master, ch.random, hello.random)
			if err := c.sendFinished(&fh, s.master, "server finished"); err != nil {
				return err
			}
			return c.readFinished(&fh, s.master, "client finished")
		}
	}
	hello.cipherSuite = c.suite.id
	if cache != nil {
		hello.sessionID = make([]byte, 32)
		if _, err := io.ReadFull(cfg.rand(), hello.sessionID); err != nil {
			return err
		}
	}
	if err := c.writeHandshake(hello, &fh); err != nil {
		return err
	}
	certs := append([][]byte{sign.Certificate[0], enc.Certificate[0]}, sign.Certificate[1:]...)
	if err := c.writeHandshake(&certificateMsg{certificates: certs}, &fh); err != nil {
		return err
	}

	var keys *ecdheKeys
	var skx []byte
	if c.suite.ecdhe {
		if keys, err = newECDHEKeys(enc.PrivateKey, cfg.rand()); err == nil {
			skx, err = keys.serverKeyExchange(sign.PrivateKey, cfg.rand(), ch.random, hello.random)
		}
	} else {
		skx, err = eccServerKeyExchange(sign.PrivateKey, cfg.rand(), ch.random, hello.random, enc.Certificate[0])
	}
	if err != nil {
		c.sendAlert(alertInternalError)
		return err
	}
	if err := c.writeHandshake(&serverKeyExchangeMsg{key: skx}, &fh); err != nil {
		return err
	}
	if cfg.ClientAuth != NoClientCert {
		req := &certificateRequestMsg{certificateTypes: []byte{certTypeECDSA}}
		if cfg.ClientCAs != nil {
			//lint:ignore SA1019 the subjects are what CertificateRequest lists, whatever the pool holds
			req.certificateAuthorities = cfg.ClientCAs.Subjects()
		}
		if err := c.writeHandshake(req, &fh); err != nil {
			return err
		}
	}
	if err := c.writeHandshake(&serverHelloDoneMsg{}, &fh); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}

	var peer []*smx509.Certificate
	if cfg.ClientAuth != NoClientCert {
		msg, raw, err := c.readHandshake()
		if err != nil {
			return err
		}
		cm, ok := msg.(*certificateMsg)
		if !ok {
			return c.unexpected(msg, "Certificate")
		}
		fh.Write(raw)
		if peer, err = c.checkClientCertificates(cm.certificates); err != nil {
			return err
		}
	}
	if c.suite.ecdhe && len(peer) < 2 {
		c.sendAlert(alertHandshakeFailure)
		return fmt.Errorf("tlcp: suite %s needs the client's signing and encryption certificates, it sent %d", c.suite.name, len(peer))
	}

	msg, raw, err = c.readHandshake()
	if err != nil {
		return err
	}
	ckx, ok := msg.(*clientKeyExchangeMsg)
	if !ok {
		return c.unexpected(msg, "ClientKeyExchange")
	}
	fh.Write(raw)
	var pre []byte
	if c.suite.ecdhe {
		pre, err = keys.serverPreMaster(peer[1].PublicKey, ckx.body)
	} else {
		pre, err = eccDecryptPreMaster(enc.PrivateKey, cfg.rand(), ckx.body)
	}
	if err != nil {
		c.sendAlert(alertIllegalParameter)
		return err
	}

	if len(peer) > 0 {
		digest := fh.sum()
		msg, raw, err := c.readHandshake()
		if err != nil {
			return err
		}
		cv, ok := msg.(*certificateVerifyMsg)
		if !ok {
			return c.unexpected(msg, "CertificateVerify")
		}
		if !verifySM2(peer[0].PublicKey, digest, cv.signature) {
			c.sendAlert(alertDecryptError)
			return errors.New("tlcp: the client's CertificateVerify does not verify with its signing certificate")
		}
		fh.Write(raw)
	}

	master := masterSecret(pre, ch.random, hello.random)
	c.setKeys(master, ch.random, hello.random)
	if err := c.readFinished(&fh, master, "client finished"); err != nil {
		return err
	}
	if err := c.sendFinished(&fh, master, "server finished"); err != nil {
		return err
	}
	if cache != nil {
		cache.put(string(hello.sessionID), &session{
			id: hello.sessionID, suite: c.suite.id, master: master, created: cfg.now(),
			peerCerts: c.peerCertificates, verifiedChains: c.verifiedChains,
		})
	}
	return nil
}

// canResume reports whether s may be resumed for ch under the current
// configuration.
func (c *Conn) canResume(s *session, ch *clientHelloMsg) bool {
	cfg := c.config
	if !cfg.now().Before(s.created.Add(cfg.lifetime())) {
		return false
	}
	if !slices.Contains(ch.cipherSuites, s.suite) || !slices.Contains(cfg.cipherSuites(), s.suite) {
		return false
	}
	needCert := cfg.ClientAuth == RequireAnyClientCert || cfg.ClientAuth == RequireAndVerifyClientCert
	if needCert && len(s.peerCerts) == 0 {
		return false
	}
	verify := cfg.ClientAuth >= VerifyClientCertIfGiven
	if verify && len(s.peerCerts) > 0 && len(s.verifiedChains) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare(s.id, ch.sessionID) == 1
}

// checkClientCertificates applies the ClientAuth policy.
func (c *Conn) checkClientCertificates(raw [][]byte) ([]*smx509.Certificate, error) {
	cfg := c.config
	if len(raw) == 0 {
		if cfg.ClientAuth == RequireAnyClientCert || cfg.ClientAuth == RequireAndVerifyClientCert {
			c.sendAlert(alertHandshakeFailure)
			return nil, errors.New("tlcp: client sent no certificate, and the server requires one")
		}
		return nil, nil
	}
	certs, err := parseCertificates(raw)
	if err == nil {
		err = checkSM2Keys(certs)
	}
	if err != nil {
		c.sendAlert(alertBadCertificate)
		return nil, err
	}
	if cfg.ClientAuth >= VerifyClientCertIfGiven {
		chains, err := verifyPeer(cfg, certs, cfg.ClientCAs, "", smx509.ExtKeyUsageClientAuth)
		if err != nil {
			c.sendAlert(alertFor(err))
			return nil, err
		}
		c.verifiedChains = chains
	}
	if f := cfg.VerifyPeerCertificate; f != nil {
		if err := f(raw, c.verifiedChains); err != nil {
			c.sendAlert(alertBadCertificate)
			return nil, err
		}
	}
	c.peerCertificates = certs
	return certs, nil
}

func suiteNames(ids []uint16) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = CipherSuiteName(id)
	}
	return fmt.Sprint(names)
}
