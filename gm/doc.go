// Package gm holds small helpers for the Chinese national ("GuoMi")
// cryptographic algorithms that domestic platforms require, as thin,
// documented wrappers over github.com/emmansun/gmsm:
//
//   - SM3 (GB/T 32905-2016), a 256-bit hash: [SM3], [NewSM3], [HMACSM3];
//   - SM4 (GB/T 32907-2016) in GCM mode (RFC 8998): [NewSM4GCM], [SealSM4GCM],
//     [OpenSM4GCM];
//   - SM2 (GB/T 32918-2016) signatures with the SM3 digest and the default
//     user ID: [GenerateKey], [PrivateKey.Sign], [PublicKey.Verify];
//   - data at rest: a [KeyRing] of SM4-128 keys with ids, one active, whose
//     [KeyRing.Seal] and [KeyRing.Open] make and check self-describing
//     SM4-GCM blobs bound to their place, read from a private key file
//     ([LoadKeyRing]) or text ([ParseKeyRing]).
//
// Usage:
//
//	sum := gm.SM3([]byte("abc"))
//	sealed, err := gm.SealSM4GCM(key16, plaintext, aad)
//	plain, err := gm.OpenSM4GCM(key16, sealed, aad)
//	priv, err := gm.GenerateKey()
//	sig, err := priv.Sign(msg)
//	ok := priv.Public().Verify(msg, sig)
//	ring, err := gm.LoadKeyRing("/etc/duohuo/at-rest.keys")
//	blob, err := ring.Seal(nil, value, []byte("objects/name"))
//
// # Building for LoongArch under emulation
//
// gmsm v0.44.1's loong64 assembly reads its CPU feature flags with 8-byte
// loads of 1-byte booleans and may then execute LSX/LASX instructions on a
// CPU without them (SIGILL). Real 3A5000/3C5000 parts have LSX and LASX, but
// qemu-loongarch64 7.2 (Debian 12) does not emulate them, so build and test
// loong64 under that qemu with the pure Go code:
//
//	GOARCH=loong64 go test -tags purego ./gm/...
//
// The same tag also avoids a duplicate-symbol link error on amd64 when
// gmsm is linked together with afssl's vendored copy of it.
package gm
