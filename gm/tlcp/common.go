package tlcp

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"
)

// VersionTLCP is the protocol version of TLCP (GB/T 38636-2020), 1.1 on the
// wire; GM/T 0024-2014 ("GMSSL") uses the same number.
const VersionTLCP uint16 = 0x0101

// Cipher suites of GB/T 38636-2020, section 6.4.5.2.1, that this package
// implements. ECC suites encrypt the pre-master secret to the server's
// encryption certificate; ECDHE suites run the SM2 key exchange (GB/T
// 32918.3) between both sides' encryption keys and ephemeral keys, which is
// why they need a client encryption certificate.
const (
	ECC_SM4_CBC_SM3   uint16 = 0xe013
	ECC_SM4_GCM_SM3   uint16 = 0xe053
	ECDHE_SM4_CBC_SM3 uint16 = 0xe011
	ECDHE_SM4_GCM_SM3 uint16 = 0xe051
)

// CipherSuiteName returns the standard name of a suite ("ECC_SM4_GCM_SM3"),
// or its number in hex when this package does not know it.
func CipherSuiteName(id uint16) string {
	if s := suiteByID(id); s != nil {
		return s.name
	}
	return fmt.Sprintf("0x%04X", id)
}

// CipherSuites returns the suites this package implements, in its default
// order of preference: GCM before CBC, ECC before ECDHE (ECDHE needs a
// client encryption certificate, which few clients have).
func CipherSuites() []uint16 {
	out := make([]uint16, len(suites))
	for i, s := range suites {
		out[i] = s.id
	}
	return out
}

// ClientAuthType is the server's policy for client certificates; the values
// are crypto/tls's, with the same meaning.
type ClientAuthType = tls.ClientAuthType

// The client authentication policies, as in crypto/tls.
const (
	NoClientCert               = tls.NoClientCert
	RequestClientCert          = tls.RequestClientCert
	RequireAnyClientCert       = tls.RequireAnyClientCert
	VerifyClientCertIfGiven    = tls.VerifyClientCertIfGiven
	RequireAndVerifyClientCert = tls.RequireAndVerifyClientCert
)

// Certificate is one certificate chain with its private key, as for
// crypto/tls, but parsed with smx509 so that SM2 keys are understood.
type Certificate struct {
	// Certificate is the chain in DER, leaf first.
	Certificate [][]byte
	// PrivateKey is the leaf's key: an *sm2.PrivateKey (or a crypto.Signer
	// and crypto.Decrypter over one).
	PrivateKey crypto.PrivateKey
	// Leaf is the parsed leaf; nil means it is parsed when first needed.
	Leaf *smx509.Certificate
}

// Config configures a TLCP client or server. A Config may be reused and
// shared between connections once it is handed to this package, and must
// not be modified after that. The zero value is a client that verifies the
// server against no roots (so refuses every server) and offers every suite.
type Config struct {
	// Rand is the source of randomness; nil means crypto/rand.Reader.
	Rand io.Reader
	// Time returns the current time, used to check certificates and
	// session lifetimes; nil means time.Now.
	Time func() time.Time

	// Certificates are the local certificates. A server needs two: the
	// signing certificate first, then the encryption certificate
	// (GB/T 38636-2020, section 6.4.5.3). A client gives its signing
	// certificate when the server asks for one, and its encryption
	// certificate second, which the ECDHE suites require.
	Certificates []Certificate

	// RootCAs are the CAs a client trusts for server certificates; nil
	// trusts none (TLCP certificates are not in the system's roots).
	RootCAs *smx509.CertPool
	// ServerName is the name a client checks the server's signing
	// certificate against, and sends in the server_name extension; empty
	// means the host of the address dialled.
	ServerName string
	// InsecureSkipVerify makes a client accept any server certificate. For
	// tests only.
	InsecureSkipVerify bool

	// ClientAuth is the server's client-certificate policy; the zero value
	// asks for none. The ECDHE suites are only chosen when the policy asks
	// for a certificate, as they cannot run without one.
	ClientAuth ClientAuthType
	// ClientCAs are the CAs a server trusts for client certificates.
	ClientCAs *smx509.CertPool

	// VerifyPeerCertificate, if set, is called after the normal checks
	// with the peer's certificates (DER) and the verified chains of its
	// signing certificate; an error aborts the handshake.
	VerifyPeerCertificate func(rawCerts [][]byte, verifiedChains [][]*smx509.Certificate) error

	// CipherSuites are the suites offered (client) or accepted (server),
	// in order of preference; empty means [CipherSuites]. A server follows
	// its own order unless PreferClientCipherSuites is set.
	CipherSuites []uint16
	// PreferClientCipherSuites makes a server pick the client's most
	// preferred suite instead of its own.
	PreferClientCipherSuites bool

	// NextProtos are the ALPN protocols, in order of preference. A server
	// refuses a client whose offer shares none (RFC 7301, section 3.2);
	// a client without NextProtos offers none.
	NextProtos []string

	// SessionCacheSize is how many sessions a server keeps for resumption
	// by session ID; 0 means 1024, a negative number disables resumption.
	SessionCacheSize int
	// SessionLifetime is how long a session may be resumed after its full
	// handshake, on both sides; 0 means 12 hours.
	SessionLifetime time.Duration
	// ClientSessionCache keeps a client's sessions for resumption, by
	// server name and address; nil means the client never resumes.
	ClientSessionCache ClientSessionCache

	serverCacheOnce sync.Once
	serverCache     *lruSessionCache
}

func (c *Config) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}

func (c *Config) now() time.Time {
	if c.Time != nil {
		return c.Time()
	}
	return time.Now()
}

func (c *Config) lifetime() time.Duration {
	if c.SessionLifetime > 0 {
		return c.SessionLifetime
	}
	return 12 * time.Hour
}

func (c *Config) cipherSuites() []uint16 {
	if len(c.CipherSuites) > 0 {
		return c.CipherSuites
	}
	return CipherSuites()
}

func (c *Config) sessionCache() *lruSessionCache {
	c.serverCacheOnce.Do(func() {
		n := c.SessionCacheSize
		if n == 0 {
			n = 1024
		}
		if n > 0 {
			c.serverCache = newLRUSessionCache(n)
		}
	})
	return c.serverCache
}

// Clone returns a copy of c that can be changed (its session cache is not
// shared). Clone of nil is nil.
func (c *Config) Clone() *Config {
	if c == nil {
		return nil
	}
	return &Config{
		Rand:                     c.Rand,
		Time:                     c.Time,
		Certificates:             c.Certificates,
		RootCAs:                  c.RootCAs,
		ServerName:               c.ServerName,
		InsecureSkipVerify:       c.InsecureSkipVerify,
		ClientAuth:               c.ClientAuth,
		ClientCAs:                c.ClientCAs,
		VerifyPeerCertificate:    c.VerifyPeerCertificate,
		CipherSuites:             c.CipherSuites,
		PreferClientCipherSuites: c.PreferClientCipherSuites,
		NextProtos:               c.NextProtos,
		SessionCacheSize:         c.SessionCacheSize,
		SessionLifetime:          c.SessionLifetime,
		ClientSessionCache:       c.ClientSessionCache,
	}
}

// ConnectionState describes a connection once its handshake is done.
type ConnectionState struct {
	// Version is VersionTLCP.
	Version uint16
	// HandshakeComplete is true once the handshake has finished.
	HandshakeComplete bool
	// DidResume is true when this connection resumed an earlier session.
	DidResume bool
	// CipherSuite is the suite in use.
	CipherSuite uint16
	// NegotiatedProtocol is the ALPN protocol agreed, or "".
	NegotiatedProtocol string
	// ServerName is the name the client asked for (server_name extension).
	ServerName string
	// PeerCertificates are the peer's certificates as sent: signing
	// certificate, then encryption certificate (if any), then the rest.
	PeerCertificates []*smx509.Certificate
	// VerifiedChains are the verified chains of the peer's signing
	// certificate; empty when verification was skipped.
	VerifiedChains [][]*smx509.Certificate
}
