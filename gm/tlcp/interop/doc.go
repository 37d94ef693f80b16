// Package interop tests gm/tlcp against a TLCP stack written by others:
// github.com/tjfoc/gmsm v1.4.1's gmtls, in both directions. It is a module
// of its own so that tjfoc's code is never linked into duohuo.
//
// What tjfoc's gmtls can do (docs/gm.md): ECC_SM4_CBC_SM3 (0xe013), with
// and without client certificates. It has no GCM suite. Its ECDHE suite
// (0xe011) is not the SM2 key exchange: its server panics when asked for it
// and its client runs plain ECDH and panics on the SM2 curve, so neither
// direction can complete; the tests show that our side fails cleanly.
package interop
