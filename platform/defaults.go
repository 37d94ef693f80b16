package platform

import (
	"errors"
	"fmt"
)

// CryptoPreference says which cipher-suite families a TLS listener or
// upstream connection offers, and which family comes first.
type CryptoPreference string

// Crypto preferences. The "-first" ones offer both families; the "-only"
// ones come from an explicit configuration.
const (
	// CryptoGMFirst offers the Chinese national (GM: SM2/SM3/SM4, TLCP
	// GB/T 38636) suites first and the international TLS suites after them.
	CryptoGMFirst CryptoPreference = "gm-first"
	// CryptoInternationalFirst offers the international TLS 1.2/1.3 suites
	// first and the GM suites after them.
	CryptoInternationalFirst CryptoPreference = "international-first"
	// CryptoGMOnly offers only the GM suites (config crypto.suites: gm).
	CryptoGMOnly CryptoPreference = "gm-only"
	// CryptoInternationalOnly offers only the international suites (config
	// crypto.suites: international).
	CryptoInternationalOnly CryptoPreference = "international-only"
)

// ErrCryptoMode is returned by [ResolveCrypto] for a crypto.suites value it
// does not know.
var ErrCryptoMode = errors.New("platform: unknown crypto suites mode")

// Policy holds the settings duohuo derives from the platform when the
// configuration leaves them at "auto". It is a plain value.
type Policy struct {
	Crypto CryptoPreference `json:"crypto"`
	// Reason says in a few words why, for a startup log line.
	Reason string `json:"reason"`
}

// Defaults returns the platform-derived settings for in: GM suites first on
// a domestic distribution or CPU, where peers and regulators (MLPS 2.0 / 等保,
// GM/T 0024) expect them; international suites first elsewhere. Defaults is
// a pure function, safe for concurrent use.
func Defaults(in Info) Policy {
	switch {
	case in.OS.Domestic:
		return Policy{CryptoGMFirst, fmt.Sprintf("domestic distribution %s", in.OS.Distro)}
	case in.CPU.Vendor.Domestic():
		return Policy{CryptoGMFirst, fmt.Sprintf("domestic CPU %s", in.CPU.Vendor)}
	}
	return Policy{CryptoInternationalFirst, "non-domestic platform"}
}

// ResolveCrypto turns the configured crypto.suites value (see
// internal/config) into a preference: "auto" (or "") offers both families
// in the order [Defaults] picks for in; "gm" and "international" offer one
// family only, whatever the platform. Anything else wraps [ErrCryptoMode].
// The returned reason is meant for a startup log line. ResolveCrypto is a
// pure function, safe for concurrent use.
func ResolveCrypto(suites string, in Info) (CryptoPreference, string, error) {
	switch suites {
	case "", "auto":
		d := Defaults(in)
		return d.Crypto, "auto: " + d.Reason, nil
	case "gm":
		return CryptoGMOnly, "configured", nil
	case "international":
		return CryptoInternationalOnly, "configured", nil
	}
	return "", "", fmt.Errorf("crypto suites %q (want auto, gm or international): %w", suites, ErrCryptoMode)
}
