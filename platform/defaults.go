package platform

import (
	"errors"
	"fmt"
)

// CryptoPreference orders the TLS cipher-suite families a listener offers
// and a client tries.
type CryptoPreference string

// Crypto preferences and the configuration values that select them.
const (
	// CryptoGMFirst offers the Chinese national (GM: SM2/SM3/SM4, TLCP)
	// suites first and standard TLS after them.
	CryptoGMFirst CryptoPreference = "gm-first"
	// CryptoStandardFirst offers standard TLS (ECDHE, AES-GCM, ChaCha20)
	// first and the GM suites after them.
	CryptoStandardFirst CryptoPreference = "standard-first"
	// CryptoAuto is the configuration value that asks for [Defaults].
	CryptoAuto = "auto"
)

// ErrCryptoMode is returned by [ResolveCrypto] for a mode it does not know.
var ErrCryptoMode = errors.New("platform: unknown crypto mode")

// Policy holds the settings duohuo derives from the platform when
// the configuration says "auto". It is a plain value.
type Policy struct {
	Crypto CryptoPreference `json:"crypto"`
	// Reason says in a few words why, for the serve command's log line.
	Reason string `json:"reason"`
}

// Defaults returns the platform-derived defaults for in: GM suites first on
// a domestic distribution or CPU, where peers and regulators (MLPS 2.0 /
// 等保, GM/T 0024) expect them, standard first elsewhere. Defaults is a pure
// function, safe for concurrent use.
func Defaults(in Info) Policy {
	switch {
	case in.OS.Domestic:
		return Policy{CryptoGMFirst, fmt.Sprintf("domestic distribution %s", in.OS.Distro)}
	case in.CPU.Vendor.Domestic():
		return Policy{CryptoGMFirst, fmt.Sprintf("domestic CPU %s", in.CPU.Vendor)}
	}
	return Policy{CryptoStandardFirst, "non-domestic platform"}
}

// ResolveCrypto turns a configured crypto mode into a preference: "auto" (or
// "") takes [Defaults]; "gm-first" and "standard-first" are taken as given.
// Anything else wraps [ErrCryptoMode]. The reason is meant for a log line.
func ResolveCrypto(mode string, in Info) (CryptoPreference, string, error) {
	switch mode {
	case "", CryptoAuto:
		d := Defaults(in)
		return d.Crypto, "auto: " + d.Reason, nil
	case string(CryptoGMFirst), string(CryptoStandardFirst):
		return CryptoPreference(mode), "configured", nil
	}
	return "", "", fmt.Errorf("crypto mode %q (want auto, gm-first or standard-first): %w", mode, ErrCryptoMode)
}
