package tlcp

import (
	"golang.org/x/crypto/cryptobyte"
)

// Handshake message types (GB/T 38636-2020, section 6.4.5.1).
const (
	typeHelloRequest       uint8 = 0
	typeClientHello        uint8 = 1
	typeServerHello        uint8 = 2
	typeCertificate        uint8 = 11
	typeServerKeyExchange  uint8 = 12
	typeCertificateRequest uint8 = 13
	typeServerHelloDone    uint8 = 14
	typeCertificateVerify  uint8 = 15
	typeClientKeyExchange  uint8 = 16
	typeFinished           uint8 = 20
)

// Hello extensions this package reads and writes; others are ignored.
const (
	extServerName uint16 = 0  // RFC 6066, section 3
	extALPN       uint16 = 16 // RFC 7301
)

// Certificate types of CertificateRequest (GB/T 38636-2020, 6.4.5.5).
const (
	certTypeRSASign = 1
	certTypeECDSA   = 64 // "ecc_sign" in the standard
	certTypeIBC     = 80
)

// handshakeMessage is one message body with its 4-byte header.
type handshakeMessage interface {
	marshal() []byte
	unmarshal([]byte) bool
}

func marshalMsg(typ uint8, body func(b *cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	b.AddUint8(typ)
	b.AddUint24LengthPrefixed(body)
	return b.BytesOrPanic()
}

// readHeader checks the header of a whole message and returns its body.
func readHeader(data []byte, typ uint8) (cryptobyte.String, bool) {
	s := cryptobyte.String(data)
	var t uint8
	var body cryptobyte.String
	if !s.ReadUint8(&t) || t != typ || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() {
		return nil, false
	}
	return body, true
}

type clientHelloMsg struct {
	vers         uint16
	random       []byte
	sessionID    []byte
	cipherSuites []uint16
	compression  []uint8
	serverName   string
	alpn         []string
}

func addALPN(b *cryptobyte.Builder, protos []string) {
	b.AddUint16(extALPN)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, p := range protos {
				b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(p)) })
			}
		})
	})
}

func (m *clientHelloMsg) marshal() []byte {
	return marshalMsg(typeClientHello, func(b *cryptobyte.Builder) {
		b.AddUint16(m.vers)
		b.AddBytes(m.random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.sessionID) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, s := range m.cipherSuites {
				b.AddUint16(s)
			}
		})
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.compression) })
		if m.serverName == "" && len(m.alpn) == 0 {
			return
		}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			if m.serverName != "" {
				b.AddUint16(extServerName)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						b.AddUint8(0) // host_name
						b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(m.serverName)) })
					})
				})
			}
			if len(m.alpn) > 0 {
				addALPN(b, m.alpn)
			}
		})
	})
}

func (m *clientHelloMsg) unmarshal(data []byte) bool {
	*m = clientHelloMsg{}
	s, ok := readHeader(data, typeClientHello)
	if !ok {
		return false
	}
	var sid, suites, comp cryptobyte.String
	if !s.ReadUint16(&m.vers) || !s.ReadBytes(&m.random, 32) ||
		!s.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 ||
		!s.ReadUint16LengthPrefixed(&suites) || len(suites)%2 != 0 || len(suites) == 0 ||
		!s.ReadUint8LengthPrefixed(&comp) || len(comp) == 0 {
		return false
	}
	m.sessionID = append([]byte(nil), sid...)
	m.compression = append([]uint8(nil), comp...)
	for !suites.Empty() {
		var id uint16
		suites.ReadUint16(&id)
		m.cipherSuites = append(m.cipherSuites, id)
	}
	if s.Empty() {
		return true // no extensions
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return false
	}
	seen := map[uint16]bool{}
	for !exts.Empty() {
		var typ uint16
		var ext cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&ext) || seen[typ] {
			return false
		}
		seen[typ] = true
		switch typ {
		case extServerName:
			var list cryptobyte.String
			if !ext.ReadUint16LengthPrefixed(&list) || list.Empty() {
				return false
			}
			for !list.Empty() {
				var nameType uint8
				var name cryptobyte.String
				if !list.ReadUint8(&nameType) || !list.ReadUint16LengthPrefixed(&name) || name.Empty() {
					return false
				}
				if nameType == 0 && m.serverName == "" {
					m.serverName = string(name)
				}
			}
		case extALPN:
			var list cryptobyte.String
			if !ext.ReadUint16LengthPrefixed(&list) || list.Empty() {
				return false
			}
			for !list.Empty() {
				var p cryptobyte.String
				if !list.ReadUint8LengthPrefixed(&p) || p.Empty() {
					return false
				}
				m.alpn = append(m.alpn, string(p))
			}
		default:
			continue
		}
		if !ext.Empty() {
			return false
		}
	}
	return true
}

type serverHelloMsg struct {
	vers        uint16
	random      []byte
	sessionID   []byte
	cipherSuite uint16
	compression uint8
	alpn        string
}

func (m *serverHelloMsg) marshal() []byte {
	return marshalMsg(typeServerHello, func(b *cryptobyte.Builder) {
		b.AddUint16(m.vers)
		b.AddBytes(m.random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.sessionID) })
		b.AddUint16(m.cipherSuite)
		b.AddUint8(m.compression)
		if m.alpn != "" {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { addALPN(b, []string{m.alpn}) })
		}
	})
}

func (m *serverHelloMsg) unmarshal(data []byte) bool {
	*m = serverHelloMsg{}
	s, ok := readHeader(data, typeServerHello)
	if !ok {
		return false
	}
	var sid cryptobyte.String
	if !s.ReadUint16(&m.vers) || !s.ReadBytes(&m.random, 32) ||
		!s.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 ||
		!s.ReadUint16(&m.cipherSuite) || !s.ReadUint8(&m.compression) {
		return false
	}
	m.sessionID = append([]byte(nil), sid...)
	if s.Empty() {
		return true
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return false
	}
	seen := map[uint16]bool{}
	for !exts.Empty() {
		var typ uint16
		var ext cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&ext) || seen[typ] {
			return false
		}
		seen[typ] = true
		if typ != extALPN {
			continue
		}
		var list, p cryptobyte.String
		if !ext.ReadUint16LengthPrefixed(&list) || !list.ReadUint8LengthPrefixed(&p) ||
			p.Empty() || !list.Empty() || !ext.Empty() {
			return false
		}
		m.alpn = string(p)
	}
	return true
}

type certificateMsg struct {
	certificates [][]byte
}

func (m *certificateMsg) marshal() []byte {
	return marshalMsg(typeCertificate, func(b *cryptobyte.Builder) {
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, c := range m.certificates {
				b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(c) })
			}
		})
	})
}

func (m *certificateMsg) unmarshal(data []byte) bool {
	*m = certificateMsg{}
	s, ok := readHeader(data, typeCertificate)
	if !ok {
		return false
	}
	var list cryptobyte.String
	if !s.ReadUint24LengthPrefixed(&list) || !s.Empty() {
		return false
	}
	for !list.Empty() {
		var c cryptobyte.String
		if !list.ReadUint24LengthPrefixed(&c) || c.Empty() {
			return false
		}
		m.certificates = append(m.certificates, append([]byte(nil), c...))
	}
	return true
}

// serverKeyExchangeMsg and clientKeyExchangeMsg carry bodies that the key
// exchange parses.
type serverKeyExchangeMsg struct{ key []byte }

func (m *serverKeyExchangeMsg) marshal() []byte {
	return marshalMsg(typeServerKeyExchange, func(b *cryptobyte.Builder) { b.AddBytes(m.key) })
}

func (m *serverKeyExchangeMsg) unmarshal(data []byte) bool {
	s, ok := readHeader(data, typeServerKeyExchange)
	m.key = append([]byte(nil), s...)
	return ok
}

type clientKeyExchangeMsg struct{ body []byte }

func (m *clientKeyExchangeMsg) marshal() []byte {
	return marshalMsg(typeClientKeyExchange, func(b *cryptobyte.Builder) { b.AddBytes(m.body) })
}

func (m *clientKeyExchangeMsg) unmarshal(data []byte) bool {
	s, ok := readHeader(data, typeClientKeyExchange)
	m.body = append([]byte(nil), s...)
	return ok
}

type certificateRequestMsg struct {
	certificateTypes       []byte
	certificateAuthorities [][]byte
}

func (m *certificateRequestMsg) marshal() []byte {
	return marshalMsg(typeCertificateRequest, func(b *cryptobyte.Builder) {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.certificateTypes) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, ca := range m.certificateAuthorities {
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ca) })
			}
		})
	})
}

func (m *certificateRequestMsg) unmarshal(data []byte) bool {
	*m = certificateRequestMsg{}
	s, ok := readHeader(data, typeCertificateRequest)
	if !ok {
		return false
	}
	var types, cas cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&types) || types.Empty() ||
		!s.ReadUint16LengthPrefixed(&cas) || !s.Empty() {
		return false
	}
	m.certificateTypes = append([]byte(nil), types...)
	for !cas.Empty() {
		var ca cryptobyte.String
		if !cas.ReadUint16LengthPrefixed(&ca) || ca.Empty() {
			return false
		}
		m.certificateAuthorities = append(m.certificateAuthorities, append([]byte(nil), ca...))
	}
	return true
}

type serverHelloDoneMsg struct{}

func (m *serverHelloDoneMsg) marshal() []byte { return []byte{typeServerHelloDone, 0, 0, 0} }

func (m *serverHelloDoneMsg) unmarshal(data []byte) bool {
	s, ok := readHeader(data, typeServerHelloDone)
	return ok && s.Empty()
}

type helloRequestMsg struct{}

func (m *helloRequestMsg) marshal() []byte { return []byte{typeHelloRequest, 0, 0, 0} }

func (m *helloRequestMsg) unmarshal(data []byte) bool {
	s, ok := readHeader(data, typeHelloRequest)
	return ok && s.Empty()
}

type certificateVerifyMsg struct{ signature []byte }

func (m *certificateVerifyMsg) marshal() []byte {
	return marshalMsg(typeCertificateVerify, func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.signature) })
	})
}

func (m *certificateVerifyMsg) unmarshal(data []byte) bool {
	s, ok := readHeader(data, typeCertificateVerify)
	var sig cryptobyte.String
	if !ok || !s.ReadUint16LengthPrefixed(&sig) || sig.Empty() || !s.Empty() {
		return false
	}
	m.signature = append([]byte(nil), sig...)
	return true
}

type finishedMsg struct{ verifyData []byte }

func (m *finishedMsg) marshal() []byte {
	return marshalMsg(typeFinished, func(b *cryptobyte.Builder) { b.AddBytes(m.verifyData) })
}

func (m *finishedMsg) unmarshal(data []byte) bool {
	s, ok := readHeader(data, typeFinished)
	if !ok || len(s) != finishedLen {
		return false
	}
	m.verifyData = append([]byte(nil), s...)
	return true
}

// newMessage returns an empty message of the type in data's first byte.
func newMessage(typ uint8) handshakeMessage {
	switch typ {
	case typeHelloRequest:
		return new(helloRequestMsg)
	case typeClientHello:
		return new(clientHelloMsg)
	case typeServerHello:
		return new(serverHelloMsg)
	case typeCertificate:
		return new(certificateMsg)
	case typeServerKeyExchange:
		return new(serverKeyExchangeMsg)
	case typeCertificateRequest:
		return new(certificateRequestMsg)
	case typeServerHelloDone:
		return new(serverHelloDoneMsg)
	case typeCertificateVerify:
		return new(certificateVerifyMsg)
	case typeClientKeyExchange:
		return new(clientKeyExchangeMsg)
	case typeFinished:
		return new(finishedMsg)
	}
	return nil
}
