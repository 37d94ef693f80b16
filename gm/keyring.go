package gm

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Sealed blobs, as [KeyRing.Seal] writes them:
//
//	byte 0       SealVersion (1)
//	byte 1       the key id, 1 to 255
//	bytes 2-13   a random 12-byte nonce
//	then         the SM4-GCM ciphertext, as long as the plaintext
//	last 16      the GCM tag
//
// The caller's place (a bucket and key, a record number) is the GCM
// additional data: it is authenticated, not stored, so a blob opens only
// where it was sealed. The key id needs no authentication of its own: a
// blob whose id is changed is opened with another key and fails its tag.
// A later format must authenticate its version byte.
const (
	// SealVersion is the first byte of every sealed blob.
	SealVersion = 1
	// SealOverhead is how many bytes a sealed blob adds to its plaintext:
	// version, key id, nonce and tag.
	SealOverhead = 2 + sealNonceSize + sealTagSize
)

const (
	sealNonceSize = 12
	sealTagSize   = 16
	sealHeader    = 2 + sealNonceSize
)

// Errors of the key ring and its blobs; compare with errors.Is.
var (
	// ErrUnknownKey: a blob names a key id the ring does not hold (a key
	// retired too early, or the wrong key file).
	ErrUnknownKey = errors.New("gm: sealed with a key that is not in the key ring")
	// ErrSealedFormat: bytes that are not a sealed blob (too short, or an
	// unknown version).
	ErrSealedFormat = errors.New("gm: not a sealed blob")
	// ErrKeyFileMode: a key file that its group or others may read or
	// write, refused as ssh refuses such a private key.
	ErrKeyFileMode = errors.New("gm: key file is accessible by group or others")
)

// KeyRing holds SM4-128 keys for data at rest, each named by an id from 1
// to 255. One key is active: [KeyRing.Seal] uses it; [KeyRing.Open] opens
// blobs sealed with any key of the ring, so that keys can be rotated: add a
// key and make it active, re-seal what was sealed before, then retire the
// old key.
//
// A KeyRing is immutable and safe for concurrent use.
type KeyRing struct {
	active uint8
	ids    []uint8          // sorted
	aeads  [256]cipher.AEAD // by id; nil where the ring has no key
}

// NewKeyRing returns a ring of keys (id → 16-byte SM4 key) whose active
// key is active, which must be one of them. Key id 0 is not allowed.
func NewKeyRing(active uint8, keys map[uint8][]byte) (*KeyRing, error) {
	if len(keys) == 0 {
		return nil, errors.New("gm: key ring: no keys")
	}
	r := &KeyRing{active: active}
	for id, k := range keys {
		if id == 0 {
			return nil, errors.New("gm: key ring: key id 0 is not allowed; use 1 to 255")
		}
		if len(k) != SM4KeySize {
			return nil, fmt.Errorf("gm: key ring: key %d is %d bytes, want %d", id, len(k), SM4KeySize)
		}
		aead, err := NewSM4GCM(k)
		if err != nil {
			return nil, fmt.Errorf("gm: key ring: key %d: %w", id, err)
		}
		r.aeads[id] = aead
		r.ids = append(r.ids, id)
	}
	slices.Sort(r.ids)
	if r.aeads[active] == nil {
		return nil, fmt.Errorf("gm: key ring: active key %d is not among the keys %v", active, r.ids)
	}
	return r, nil
}

// Active returns the id of the key that [KeyRing.Seal] uses.
func (r *KeyRing) Active() uint8 { return r.active }

// IDs returns the ids of the ring's keys, in increasing order.
func (r *KeyRing) IDs() []uint8 { return slices.Clone(r.ids) }

// Seal encrypts and authenticates plaintext under the active key, binds it
// to place (which may be empty, and is not stored), and appends the blob to
// dst. It draws the nonce from crypto/rand; with random nonces, seal at most
// 2^32 blobs under one key (NIST SP 800-38D, section 8.3) and rotate before.
// Seal allocates nothing when dst has room for len(plaintext)+[SealOverhead]
// more bytes. dst and plaintext must not overlap.
func (r *KeyRing) Seal(dst, plaintext, place []byte) ([]byte, error) {
	out := slices.Grow(dst, SealOverhead+len(plaintext))
	n := len(out)
	out = append(out, SealVersion, r.active)
	out = out[:n+sealHeader]
	nonce := out[n+2 : n+sealHeader]
	if _, err := rand.Read(nonce); err != nil {
		return dst, fmt.Errorf("gm: seal: nonce: %w", err)
	}
	return r.aeads[r.active].Seal(out, nonce, plaintext, place), nil
}

// Open checks and decrypts a blob made by [KeyRing.Seal] with the same
// place, with whichever key of the ring sealed it, and appends the
// plaintext to dst. It returns an error wrapping [ErrSealedFormat] for
// bytes that are not a blob, [ErrUnknownKey] for a key id the ring lacks,
// or [ErrOpen] when the tag fails (tampered, another place, another key
// under the same id). It never panics, and allocates nothing when dst has
// room for the plaintext.
func (r *KeyRing) Open(dst, sealed, place []byte) ([]byte, error) {
	id, err := SealedKeyID(sealed)
	if err != nil {
		return dst, err
	}
	aead := r.aeads[id]
	if aead == nil {
		return dst, unknownKey(id)
	}
	out, err := aead.Open(dst, sealed[2:sealHeader], sealed[sealHeader:], place)
	if err != nil {
		return dst, ErrOpen
	}
	return out, nil
}

func unknownKey(id uint8) error { return fmt.Errorf("%w: key id %d", ErrUnknownKey, id) }

// Stale reports whether sealed is a blob sealed with a key other than the
// active one: it should be sealed again before that key is retired.
func (r *KeyRing) Stale(sealed []byte) bool {
	id, err := SealedKeyID(sealed)
	return err == nil && id != r.active
}

// SealedKeyID returns the id of the key that sealed a blob, without
// opening it. It returns an error wrapping [ErrSealedFormat] for bytes that
// cannot be a blob.
func SealedKeyID(sealed []byte) (uint8, error) {
	switch {
	case len(sealed) < SealOverhead:
		return 0, fmt.Errorf("%w: %d bytes, at least %d needed", ErrSealedFormat, len(sealed), SealOverhead)
	case sealed[0] != SealVersion:
		return 0, fmt.Errorf("%w: version %d, want %d", ErrSealedFormat, sealed[0], SealVersion)
	case sealed[1] == 0:
		return 0, fmt.Errorf("%w: key id 0", ErrSealedFormat)
	}
	return sealed[1], nil
}

// ParseKeyRing reads a key ring from text: one key per line, as
// "ID:KEY" with ID from 1 to 255 and KEY 16 bytes written as 32 hex digits
// or in standard base64 (24 characters with padding, 22 without). Keys may
// also be separated by commas or semicolons, for an environment variable.
// "#" starts a comment; blank lines are ignored. An optional "active:ID"
// names the active key; without one, the key with the highest id is
// active. Errors name the line and never quote a key.
func ParseKeyRing(text string) (*KeyRing, error) {
	keys := make(map[uint8][]byte)
	active := -1
	for ln, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		for entry := range strings.FieldsFuncSeq(line, func(c rune) bool { return c == ',' || c == ';' }) {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			name, val, ok := strings.Cut(entry, ":")
			if !ok {
				return nil, fmt.Errorf("gm: key ring line %d: want ID:KEY (hex or base64) or active:ID", ln+1)
			}
			name, val = strings.TrimSpace(name), strings.TrimSpace(val)
			if name == "active" {
				id, err := parseKeyID(val)
				if err != nil {
					return nil, fmt.Errorf("gm: key ring line %d: active: %w", ln+1, err)
				}
				if active >= 0 {
					return nil, fmt.Errorf("gm: key ring line %d: a second active line", ln+1)
				}
				active = int(id)
				continue
			}
			id, err := parseKeyID(name)
			if err != nil {
				return nil, fmt.Errorf("gm: key ring line %d: %w", ln+1, err)
			}
			if _, dup := keys[id]; dup {
				return nil, fmt.Errorf("gm: key ring line %d: key id %d given twice", ln+1, id)
			}
			k, err := parseKey(val)
			if err != nil {
				return nil, fmt.Errorf("gm: key ring line %d: key %d: %w", ln+1, id, err)
			}
			keys[id] = k
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("gm: key ring: no keys (want lines of ID:KEY)")
	}
	if active < 0 {
		for id := range keys {
			active = max(active, int(id))
		}
	}
	return NewKeyRing(uint8(active), keys)
}

func parseKeyID(s string) (uint8, error) {
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("key id %q: want a number from 1 to 255", s)
	}
	return uint8(n), nil
}

// parseKey reads 16 bytes as hex (32 digits) or standard base64; the
// lengths tell them apart.
func parseKey(s string) ([]byte, error) {
	var k []byte
	var err error
	switch len(s) {
	case 2 * SM4KeySize:
		k, err = hex.DecodeString(s)
	case 24:
		k, err = base64.StdEncoding.DecodeString(s)
	case 22:
		k, err = base64.RawStdEncoding.DecodeString(s)
	default:
		return nil, fmt.Errorf("%d characters: want 16 bytes as 32 hex digits or 24 base64 characters", len(s))
	}
	if err != nil {
		// The decoder's message quotes the offending byte; say less.
		return nil, errors.New("not valid hex or base64")
	}
	if len(k) != SM4KeySize {
		return nil, fmt.Errorf("%d bytes, want %d", len(k), SM4KeySize)
	}
	return k, nil
}

// LoadKeyRing reads a key ring file in the format of [ParseKeyRing]. Like
// ssh with a private key, it refuses a file that its group or others may
// read or write (an error wrapping [ErrKeyFileMode]): chmod 600 it.
func LoadKeyRing(path string) (*KeyRing, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gm: key file: %w", err)
	}
	defer f.Close()
	if err := checkKeyFile(f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("gm: key file %s: %w", path, err)
	}
	r, err := ParseKeyRing(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// checkKeyFile returns an error wrapping [ErrKeyFileMode] if f is not a
// regular file that only its owner may read and write.
func checkKeyFile(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("gm: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("gm: key file is not a regular file (%v)", fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: mode %#o is too open; chmod 600 it", ErrKeyFileMode, perm)
	}
	return nil
}
