package tlcp

import (
	"errors"
	"strconv"
)

// alert is a TLCP alert description (GB/T 38636-2020, section 6.4.4.2,
// the TLS 1.1 values plus the GM ones from 200 on).
type alert uint8

const (
	alertLevelWarning = 1
	alertLevelError   = 2
)

const (
	alertCloseNotify            alert = 0
	alertUnexpectedMessage      alert = 10
	alertBadRecordMAC           alert = 20
	alertRecordOverflow         alert = 22
	alertDecompressionFailure   alert = 30
	alertHandshakeFailure       alert = 40
	alertBadCertificate         alert = 42
	alertUnsupportedCertificate alert = 43
	alertCertificateRevoked     alert = 44
	alertCertificateExpired     alert = 45
	alertCertificateUnknown     alert = 46
	alertIllegalParameter       alert = 47
	alertUnknownCA              alert = 48
	alertAccessDenied           alert = 49
	alertDecodeError            alert = 50
	alertDecryptError           alert = 51
	alertProtocolVersion        alert = 70
	alertInsufficientSecurity   alert = 71
	alertInternalError          alert = 80
	alertUserCanceled           alert = 90
	alertNoRenegotiation        alert = 100
	alertUnsupportedExtension   alert = 110
	alertNoApplicationProtocol  alert = 120
	alertUnsupportedSite2Site   alert = 200
	alertNoArea                 alert = 201
	alertUnsupportedAreaType    alert = 202
	alertBadIBCParam            alert = 203
	alertUnsupportedIBCParam    alert = 204
	alertIdentityNeed           alert = 205
)

var alertText = map[alert]string{
	alertCloseNotify:            "close notify",
	alertUnexpectedMessage:      "unexpected message",
	alertBadRecordMAC:           "bad record MAC",
	alertRecordOverflow:         "record overflow",
	alertDecompressionFailure:   "decompression failure",
	alertHandshakeFailure:       "handshake failure",
	alertBadCertificate:         "bad certificate",
	alertUnsupportedCertificate: "unsupported certificate",
	alertCertificateRevoked:     "revoked certificate",
	alertCertificateExpired:     "expired certificate",
	alertCertificateUnknown:     "unknown certificate",
	alertIllegalParameter:       "illegal parameter",
	alertUnknownCA:              "unknown certificate authority",
	alertAccessDenied:           "access denied",
	alertDecodeError:            "error decoding message",
	alertDecryptError:           "error decrypting message",
	alertProtocolVersion:        "protocol version not supported",
	alertInsufficientSecurity:   "insufficient security level",
	alertInternalError:          "internal error",
	alertUserCanceled:           "user canceled",
	alertNoRenegotiation:        "no renegotiation",
	alertUnsupportedExtension:   "unsupported extension",
	alertNoApplicationProtocol:  "no application protocol",
	alertUnsupportedSite2Site:   "unsupported site2site",
	alertNoArea:                 "no area",
	alertUnsupportedAreaType:    "unsupported area type",
	alertBadIBCParam:            "bad IBC parameter",
	alertUnsupportedIBCParam:    "unsupported IBC parameter",
	alertIdentityNeed:           "identity needed",
}

func (a alert) String() string {
	if s, ok := alertText[a]; ok {
		return "tlcp: " + s
	}
	return "tlcp: alert(" + strconv.Itoa(int(a)) + ")"
}

func (a alert) Error() string { return a.String() }

// AlertError is the error of a connection whose peer sent a fatal alert, or
// that sent one itself.
type AlertError struct {
	// Alert is the alert description number.
	Alert uint8
	// Remote is true when the peer sent it.
	Remote bool
}

func (e *AlertError) Error() string {
	who := "local error"
	if e.Remote {
		who = "remote error"
	}
	return who + ": " + alert(e.Alert).String()
}

// Sentinel errors callers branch on.
var (
	// ErrUnknownAuthority reports a peer certificate that does not chain
	// to the configured CAs; it is wrapped with the verifier's detail.
	ErrUnknownAuthority = errors.New("tlcp: certificate not signed by a trusted CA")
	// ErrNotTLCP is returned when the peer does not speak TLCP 1.1.
	ErrNotTLCP = errors.New("tlcp: peer does not speak TLCP (version 0x0101)")
)
