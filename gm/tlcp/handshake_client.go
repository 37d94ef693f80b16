package tlcp

import (
	"bytes"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"

	"github.com/emmansun/gmsm/ecdh"
	"github.com/emmansun/gmsm/smx509"
)

// helloRandom is gmt_unix_time followed by 28 random bytes (GB/T
// 38636-2020, section 6.4.5.2.1).
func helloRandom(cfg *Config) ([]byte, error) {
	r := make([]byte, 32)
	binary.BigEndian.PutUint32(r, uint32(cfg.now().Unix()))
	if _, err := io.ReadFull(cfg.rand(), r[4:]); err != nil {
		return nil, fmt.Errorf("tlcp: random: %w", err)
	}
	return r, nil
}

func (c *Conn) clientSessionKey() string {
	if c.config.ServerName != "" {
		return c.config.ServerName
	}
	return c.conn.RemoteAddr().String()
}

func (c *Conn) clientHandshake() error {
	cfg := c.config
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		return errors.New("tlcp: either Config.ServerName or InsecureSkipVerify must be set")
	}
	random, err := helloRandom(cfg)
	if err != nil {
		return err
	}
	hello := &clientHelloMsg{
		vers:        VersionTLCP,
		random:      random,
		compression: []uint8{0},
		alpn:        cfg.NextProtos,
	}
	if net.ParseIP(cfg.ServerName) == nil {
		hello.serverName = cfg.ServerName
	}
	for _, id := range cfg.cipherSuites() {
		if suiteByID(id) != nil {
			hello.cipherSuites = append(hello.cipherSuites, id)
		}
	}
	if len(hello.cipherSuites) == 0 {
		return errors.New("tlcp: Config.CipherSuites holds no suite this package implements")
	}

	var resume *session
	if cache := cfg.ClientSessionCache; cache != nil {
		if cs, ok := cache.Get(c.clientSessionKey()); ok && cs != nil {
			s := cs.s
			if cfg.now().Before(s.created.Add(cfg.lifetime())) && slices.Contains(hello.cipherSuites, s.suite) {
				resume = &s
				hello.sessionID = s.id
			} else {
				cache.Put(c.clientSessionKey(), nil)
			}
		}
	}

	fh := newFinishedHash()
	if err := c.writeHandshake(hello, &fh); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}

	msg, raw, err := c.readHandshake()
	if err != nil {
		return err
	}
	sh, ok := msg.(*serverHelloMsg)
	if !ok {
		return c.unexpected(msg, "ServerHello")
	}
	fh.Write(raw)
	if sh.vers != VersionTLCP {
		c.sendAlert(alertProtocolVersion)
		return fmt.Errorf("%w: server chose version %#04x", ErrNotTLCP, sh.vers)
	}
	c.vers, c.haveVers = VersionTLCP, true
	if sh.compression != 0 {
		c.sendAlert(alertIllegalParameter)
		return errors.New("tlcp: server chose a compression method")
	}
	if !slices.Contains(hello.cipherSuites, sh.cipherSuite) {
		c.sendAlert(alertIllegalParameter)
		return fmt.Errorf("tlcp: server chose suite %s, which was not offered", CipherSuiteName(sh.cipherSuite))
	}
	c.suite = suiteByID(sh.cipherSuite)
	if sh.alpn != "" && !slices.Contains(cfg.NextProtos, sh.alpn) {
		c.sendAlert(alertUnsupportedExtension)
		return fmt.Errorf("tlcp: server chose ALPN protocol %q, which was not offered", sh.alpn)
	}
	c.alpn = sh.alpn
	c.serverName = cfg.ServerName

	if resume != nil && len(sh.sessionID) > 0 && bytes.Equal(sh.sessionID, resume.id) {
		if sh.cipherSuite != resume.suite {
			c.sendAlert(alertIllegalParameter)
			return errors.New("tlcp: server resumed a session with another suite")
		}
		c.didResume = true
		c.peerCertificates = resume.peerCerts
		c.verifiedChains = resume.verifiedChains
		c.setKeys(resume.master, hello.random, sh.random)
		if err := c.readFinished(&fh, resume.master, "server finished"); err != nil {
			return err
		}
		return c.sendFinished(&fh, resume.master, "client finished")
	}
	if resume != nil {
		cfg.ClientSessionCache.Put(c.clientSessionKey(), nil)
	}

	// Certificate: signing, then encryption certificate.
	msg, raw, err = c.readHandshake()
	if err != nil {
		return err
	}
	certMsg, ok := msg.(*certificateMsg)
	if !ok {
		return c.unexpected(msg, "Certificate")
	}
	fh.Write(raw)
	if len(certMsg.certificates) < 2 {
		c.sendAlert(alertBadCertificate)
		return fmt.Errorf("tlcp: server sent %d certificates, TLCP needs a signing and an encryption certificate", len(certMsg.certificates))
	}
	certs, err := parseCertificates(certMsg.certificates)
	if err == nil {
		err = checkSM2Keys(certs)
	}
	if err != nil {
		c.sendAlert(alertBadCertificate)
		return err
	}
	if !cfg.InsecureSkipVerify {
		chains, err := verifyPeer(cfg, certs, cfg.RootCAs, cfg.ServerName, smx509.ExtKeyUsageServerAuth)
		if err != nil {
			c.sendAlert(alertFor(err))
			return err
		}
		c.verifiedChains = chains
	}
	if f := cfg.VerifyPeerCertificate; f != nil {
		if err := f(certMsg.certificates, c.verifiedChains); err != nil {
			c.sendAlert(alertBadCertificate)
			return err
		}
	}
	c.peerCertificates = certs

	msg, raw, err = c.readHandshake()
	if err != nil {
		return err
	}
	skx, ok := msg.(*serverKeyExchangeMsg)
	if !ok {
		return c.unexpected(msg, "ServerKeyExchange")
	}
	fh.Write(raw)
	var serverEph any
	if c.suite.ecdhe {
		eph, err := verifyECDHEServerKeyExchange(skx.key, certs[0].PublicKey, hello.random, sh.random)
		if err != nil {
			c.sendAlert(alertDecryptError)
			return err
		}
		serverEph = eph
	} else if err := verifyECCServerKeyExchange(skx.key, certs[0].PublicKey, hello.random, sh.random, certs[1].Raw); err != nil {
		c.sendAlert(alertDecryptError)
		return err
	}

	msg, raw, err = c.readHandshake()
	if err != nil {
		return err
	}
	var certReq *certificateRequestMsg
	if m, ok := msg.(*certificateRequestMsg); ok {
		certReq = m
		fh.Write(raw)
		if msg, raw, err = c.readHandshake(); err != nil {
			return err
		}
	}
	if _, ok := msg.(*serverHelloDoneMsg); !ok {
		return c.unexpected(msg, "ServerHelloDone")
	}
	fh.Write(raw)

	var sign, enc *Certificate
	if len(cfg.Certificates) > 0 {
		sign = &cfg.Certificates[0]
	}
	if len(cfg.Certificates) > 1 {
		enc = &cfg.Certificates[1]
	}
	if certReq != nil {
		out := &certificateMsg{}
		if sign != nil && len(sign.Certificate) > 0 {
			out.certificates = append(out.certificates, sign.Certificate[0])
			if enc != nil && len(enc.Certificate) > 0 {
				out.certificates = append(out.certificates, enc.Certificate[0])
			}
			out.certificates = append(out.certificates, sign.Certificate[1:]...)
		}
		if err := c.writeHandshake(out, &fh); err != nil {
			return err
		}
	}

	var pre, ckx []byte
	if c.suite.ecdhe {
		if certReq == nil || enc == nil || sign == nil {
			c.sendAlert(alertHandshakeFailure)
			return fmt.Errorf("tlcp: suite %s needs a client signing and encryption certificate (Config.Certificates)", c.suite.name)
		}
		keys, err := newECDHEKeys(enc.PrivateKey, cfg.rand())
		if err != nil {
			c.sendAlert(alertInternalError)
			return err
		}
		pre, ckx, err = keys.clientKeyExchange(certs[1].PublicKey, serverEph.(*ecdh.PublicKey))
		if err != nil {
			c.sendAlert(alertInternalError)
			return err
		}
	} else {
		pre, ckx, err = eccClientKeyExchange(certs[1].PublicKey, cfg.rand())
		if err != nil {
			c.sendAlert(alertInternalError)
			return err
		}
	}
	if err := c.writeHandshake(&clientKeyExchangeMsg{body: ckx}, &fh); err != nil {
		return err
	}

	if certReq != nil && sign != nil && len(sign.Certificate) > 0 {
		sig, err := signSM2(sign.PrivateKey, cfg.rand(), fh.sum())
		if err != nil {
			c.sendAlert(alertInternalError)
			return err
		}
		if err := c.writeHandshake(&certificateVerifyMsg{signature: sig}, &fh); err != nil {
			return err
		}
	}

	master := masterSecret(pre, hello.random, sh.random)
	c.setKeys(master, hello.random, sh.random)
	if err := c.sendFinished(&fh, master, "client finished"); err != nil {
		return err
	}
	if err := c.readFinished(&fh, master, "server finished"); err != nil {
		return err
	}
	if cache := cfg.ClientSessionCache; cache != nil && len(sh.sessionID) > 0 {
		cache.Put(c.clientSessionKey(), &ClientSessionState{s: session{
			id: sh.sessionID, suite: c.suite.id, master: master, created: cfg.now(),
			peerCerts: c.peerCertificates, verifiedChains: c.verifiedChains,
		}})
	}
	return nil
}

// setKeys prepares both directions' next ciphers from the master secret.
func (c *Conn) setKeys(master, clientRandom, serverRandom []byte) {
	cMAC, sMAC, cKey, sKey, cIV, sIV := c.suite.keys(master, clientRandom, serverRandom)
	client := c.suite.newCipher(cKey, cMAC, cIV)
	server := c.suite.newCipher(sKey, sMAC, sIV)
	if c.isClient {
		c.out.nextCipher, c.in.nextCipher = client, server
	} else {
		c.out.nextCipher, c.in.nextCipher = server, client
	}
}

// sendFinished sends ChangeCipherSpec and Finished, and flushes the flight.
func (c *Conn) sendFinished(fh *finishedHash, master []byte, label string) error {
	if err := c.writeChangeCipherSpec(); err != nil {
		return err
	}
	if err := c.writeHandshake(&finishedMsg{verifyData: fh.verifyData(master, label)}, fh); err != nil {
		return err
	}
	return c.flush()
}

// readFinished reads the peer's ChangeCipherSpec and Finished and checks it.
func (c *Conn) readFinished(fh *finishedHash, master []byte, label string) error {
	if err := c.readChangeCipherSpec(); err != nil {
		return err
	}
	msg, raw, err := c.readHandshake()
	if err != nil {
		return err
	}
	fin, ok := msg.(*finishedMsg)
	if !ok {
		return c.unexpected(msg, "Finished")
	}
	if want := fh.verifyData(master, label); !hmac.Equal(fin.verifyData, want) {
		c.sendAlert(alertDecryptError)
		return errors.New("tlcp: the peer's Finished is wrong")
	}
	fh.Write(raw)
	return nil
}
