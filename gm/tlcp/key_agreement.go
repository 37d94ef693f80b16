package tlcp

import (
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"

	"github.com/emmansun/gmsm/ecdh"
	"github.com/emmansun/gmsm/sm2"
	"golang.org/x/crypto/cryptobyte"
)

// curveSM2 is the named curve of SM2 (RFC 8998, section 2), sent in the
// ECDHE parameters; GB/T 38636-2020, section 6.4.5.4, lets the receiver
// ignore it, and so do we.
const curveSM2 = 41

// preMasterLen is the size of the pre-master secret of the ECC suites, and
// the key length asked of the SM2 key exchange in the ECDHE suites (the
// standard does not say; 48 as for ECC, as other implementations do).
const preMasterLen = 48

var (
	errServerKeyExchange = errors.New("tlcp: malformed ServerKeyExchange")
	errClientKeyExchange = errors.New("tlcp: malformed ClientKeyExchange")
)

// signedECCParams is what the ECC suites' ServerKeyExchange signs: both
// randoms and the encryption certificate (GB/T 38636-2020, 6.4.5.4).
func signedECCParams(clientRandom, serverRandom, encCert []byte) []byte {
	b := make([]byte, 0, 64+3+len(encCert))
	b = append(b, clientRandom...)
	b = append(b, serverRandom...)
	b = append(b, byte(len(encCert)>>16), byte(len(encCert)>>8), byte(len(encCert)))
	return append(b, encCert...)
}

func signSM2(key crypto.PrivateKey, rand io.Reader, msg []byte) ([]byte, error) {
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("tlcp: signing key %T is not a crypto.Signer", key)
	}
	if !sm2.IsSM2PublicKey(s.Public()) {
		return nil, fmt.Errorf("tlcp: signing key is not an SM2 key")
	}
	// SM2 with Z_A of the default user ID (GB/T 35276-2017, section 10).
	return s.Sign(rand, msg, sm2.DefaultSM2SignerOpts)
}

func verifySM2(pub any, msg, sig []byte) bool {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(k) {
		return false
	}
	return sm2.VerifyASN1WithSM2(k, nil, msg, sig)
}

// eccServerKeyExchange is the body of an ECC suite's ServerKeyExchange.
func eccServerKeyExchange(signKey crypto.PrivateKey, rand io.Reader, cr, sr, encCert []byte) ([]byte, error) {
	sig, err := signSM2(signKey, rand, signedECCParams(cr, sr, encCert))
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sig) })
	return b.Bytes()
}

func verifyECCServerKeyExchange(body []byte, signPub any, cr, sr, encCert []byte) error {
	s := cryptobyte.String(body)
	var sig cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&sig) || sig.Empty() || !s.Empty() {
		return errServerKeyExchange
	}
	if !verifySM2(signPub, signedECCParams(cr, sr, encCert), sig) {
		return errors.New("tlcp: ServerKeyExchange signature does not verify with the signing certificate")
	}
	return nil
}

// eccClientKeyExchange draws the pre-master secret and encrypts it to the
// server's encryption key: SM2 with the GM/T 0009 ASN.1 ciphertext.
func eccClientKeyExchange(encPub any, rand io.Reader) (pre, body []byte, err error) {
	k, ok := encPub.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(k) {
		return nil, nil, errors.New("tlcp: the server's encryption certificate has no SM2 key")
	}
	pre = make([]byte, preMasterLen)
	pre[0], pre[1] = byte(VersionTLCP>>8), byte(VersionTLCP&0xff)
	if _, err := io.ReadFull(rand, pre[2:]); err != nil {
		return nil, nil, err
	}
	ct, err := sm2.Encrypt(rand, k, pre, sm2.ASN1EncrypterOpts)
	if err != nil {
		return nil, nil, err
	}
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ct) })
	body, err = b.Bytes()
	return pre, body, err
}

// eccDecryptPreMaster decrypts the pre-master secret. A ciphertext that
// does not decrypt to 48 bytes yields a random secret instead of an error,
// so that the handshake fails at Finished and the peer learns nothing about
// why (as RFC 5246, section 7.4.7.1, does for RSA).
func eccDecryptPreMaster(encKey crypto.PrivateKey, rand io.Reader, body []byte) ([]byte, error) {
	s := cryptobyte.String(body)
	var ct cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&ct) || ct.Empty() || !s.Empty() {
		return nil, errClientKeyExchange
	}
	d, ok := encKey.(crypto.Decrypter)
	if !ok {
		return nil, fmt.Errorf("tlcp: encryption key %T is not a crypto.Decrypter", encKey)
	}
	random := make([]byte, preMasterLen)
	if _, err := io.ReadFull(rand, random); err != nil {
		return nil, err
	}
	pre, err := d.Decrypt(rand, ct, sm2.ASN1DecrypterOpts)
	if err != nil || len(pre) != preMasterLen {
		return random, nil
	}
	return pre, nil
}

// ecdheKeys are one side's keys of the SM2 key exchange.
type ecdheKeys struct {
	static    *ecdh.PrivateKey // the encryption certificate's key
	ephemeral *ecdh.PrivateKey
}

func newECDHEKeys(encKey crypto.PrivateKey, rand io.Reader) (*ecdheKeys, error) {
	k, ok := encKey.(interface {
		ECDH() (*ecdh.PrivateKey, error)
	})
	if !ok {
		return nil, fmt.Errorf("tlcp: encryption key %T cannot run the SM2 key exchange", encKey)
	}
	static, err := k.ECDH()
	if err != nil {
		return nil, err
	}
	eph, err := ecdh.P256().GenerateKey(rand)
	if err != nil {
		return nil, err
	}
	return &ecdheKeys{static: static, ephemeral: eph}, nil
}

// ecdheParams is ServerECDHParams / ClientECDHParams: named curve, point.
func ecdheParams(pub *ecdh.PublicKey) []byte {
	p := pub.Bytes()
	return append([]byte{3, 0, curveSM2, byte(len(p))}, p...)
}

func parseECDHEParams(s *cryptobyte.String) ([]byte, *ecdh.PublicKey, bool) {
	start := *s
	var curveType uint8
	var curve uint16
	var point cryptobyte.String
	if !s.ReadUint8(&curveType) || curveType != 3 || !s.ReadUint16(&curve) ||
		!s.ReadUint8LengthPrefixed(&point) {
		return nil, nil, false
	}
	pub, err := ecdh.P256().NewPublicKey(point)
	if err != nil {
		return nil, nil, false
	}
	return start[:len(start)-len(*s)], pub, true
}

func (k *ecdheKeys) serverKeyExchange(signKey crypto.PrivateKey, rand io.Reader, cr, sr []byte) ([]byte, error) {
	params := ecdheParams(k.ephemeral.PublicKey())
	tbs := append(append(append([]byte{}, cr...), sr...), params...)
	sig, err := signSM2(signKey, rand, tbs)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddBytes(params)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sig) })
	return b.Bytes()
}

// verifyECDHEServerKeyExchange checks the signature and returns the
// server's ephemeral key.
func verifyECDHEServerKeyExchange(body []byte, signPub any, cr, sr []byte) (*ecdh.PublicKey, error) {
	s := cryptobyte.String(body)
	params, eph, ok := parseECDHEParams(&s)
	var sig cryptobyte.String
	if !ok || !s.ReadUint16LengthPrefixed(&sig) || sig.Empty() || !s.Empty() {
		return nil, errServerKeyExchange
	}
	tbs := append(append(append([]byte{}, cr...), sr...), params...)
	if !verifySM2(signPub, tbs, sig) {
		return nil, errors.New("tlcp: ServerKeyExchange signature does not verify with the signing certificate")
	}
	return eph, nil
}

func ecdhPublic(pub any) (*ecdh.PublicKey, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(k) {
		return nil, errors.New("tlcp: encryption certificate without an SM2 key")
	}
	return sm2.PublicKeyToECDH(k)
}

// clientKeyExchange runs the responder's side of the SM2 key exchange
// (GB/T 32918.3-2016, section 6.1, default user IDs) and returns the
// pre-master secret and the ClientKeyExchange body: ClientECDHParams
// without a length prefix, as GmSSL and gotlcp send it.
func (k *ecdheKeys) clientKeyExchange(serverEnc any, serverEph *ecdh.PublicKey) (pre, body []byte, err error) {
	peer, err := ecdhPublic(serverEnc)
	if err != nil {
		return nil, nil, err
	}
	u, err := k.static.SM2MQV(k.ephemeral, peer, serverEph)
	if err != nil {
		return nil, nil, err
	}
	pre, err = u.SM2SharedKey(true, preMasterLen, k.static.PublicKey(), peer, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	return pre, ecdheParams(k.ephemeral.PublicKey()), nil
}

// serverPreMaster runs the initiator's side. body may also carry the
// params with a 2-byte length prefix, which some implementations send.
func (k *ecdheKeys) serverPreMaster(clientEnc any, body []byte) ([]byte, error) {
	s := cryptobyte.String(body)
	if len(body) > 2 && int(body[0])<<8|int(body[1]) == len(body)-2 {
		s = s[2:]
	}
	_, eph, ok := parseECDHEParams(&s)
	if !ok || !s.Empty() {
		return nil, errClientKeyExchange
	}
	peer, err := ecdhPublic(clientEnc)
	if err != nil {
		return nil, err
	}
	u, err := k.static.SM2MQV(k.ephemeral, peer, eph)
	if err != nil {
		return nil, err
	}
	return u.SM2SharedKey(false, preMasterLen, k.static.PublicKey(), peer, nil, nil)
}
