package gm_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/gm"
)

const (
	hexKey1 = "000102030405060708090a0b0c0d0e0f"
	hexKey2 = "f0e0d0c0b0a090807060504030201000"
)

func mustRing(t testing.TB, text string) *gm.KeyRing {
	t.Helper()
	r, err := gm.ParseKeyRing(text)
	if err != nil {
		t.Fatalf("ParseKeyRing(%q): %v", text, err)
	}
	return r
}

func TestKeyRingSealOpen(t *testing.T) {
	r := mustRing(t, "1:"+hexKey1)
	plain := []byte("the db password")
	sealed, err := r.Seal(nil, plain, []byte("objects/cfg"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != len(plain)+gm.SealOverhead || sealed[0] != gm.SealVersion || sealed[1] != 1 {
		t.Fatalf("Seal: %d bytes, header %x; want %d bytes, header 0101", len(sealed), sealed[:2], len(plain)+gm.SealOverhead)
	}
	if bytes.Contains(sealed, plain) {
		t.Fatal("Seal: the plaintext is in the blob")
	}
	got, err := r.Open(nil, sealed, []byte("objects/cfg"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v; want %q", got, err, plain)
	}
	again, _ := r.Seal(nil, plain, []byte("objects/cfg"))
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals of one plaintext are equal: the nonce is not random")
	}
	// Appending to dst keeps what dst holds.
	out, err := r.Open([]byte("x:"), sealed, []byte("objects/cfg"))
	if err != nil || string(out) != "x:the db password" {
		t.Fatalf("Open with a prefix = %q, %v", out, err)
	}
}

func TestKeyRingOpenRefuses(t *testing.T) {
	r := mustRing(t, "1:"+hexKey1+"\n2:"+hexKey2)
	sealed, _ := r.Seal(nil, []byte("value"), []byte("log/1"))
	other := mustRing(t, "2:"+hexKey1) // id 2, but another key
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-20] ^= 1
	wrongID := bytes.Clone(sealed)
	wrongID[1] = 1
	version := bytes.Clone(sealed)
	version[0] = 9
	for _, tc := range []struct {
		name   string
		ring   *gm.KeyRing
		sealed []byte
		place  string
		want   error
	}{
		{"another place", r, sealed, "log/2", gm.ErrOpen},
		{"a flipped ciphertext bit", r, flipped, "log/1", gm.ErrOpen},
		{"the key id changed", r, wrongID, "log/1", gm.ErrOpen},
		{"another key under the same id", other, sealed, "log/1", gm.ErrOpen},
		{"a key id not in the ring", mustRing(t, "7:"+hexKey2), sealed, "log/1", gm.ErrUnknownKey},
		{"an unknown version", r, version, "log/1", gm.ErrSealedFormat},
		{"too short", r, sealed[:gm.SealOverhead-1], "log/1", gm.ErrSealedFormat},
		{"empty", r, nil, "log/1", gm.ErrSealedFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.ring.Open(nil, tc.sealed, []byte(tc.place))
			if !errors.Is(err, tc.want) || got != nil {
				t.Fatalf("Open = %q, %v; want nil, %v", got, err, tc.want)
			}
		})
	}
}

func TestKeyRingRotation(t *testing.T) {
	old := mustRing(t, "1:"+hexKey1)
	sealed, _ := old.Seal(nil, []byte("v"), nil)
	rotated := mustRing(t, "1:"+hexKey1+"\n2:"+hexKey2) // 2 is active: the highest id
	if rotated.Active() != 2 || !slices.Equal(rotated.IDs(), []uint8{1, 2}) {
		t.Fatalf("Active, IDs = %d, %v; want 2, [1 2]", rotated.Active(), rotated.IDs())
	}
	if got, err := rotated.Open(nil, sealed, nil); err != nil || string(got) != "v" {
		t.Fatalf("a blob of the retired key: Open = %q, %v", got, err)
	}
	if !rotated.Stale(sealed) {
		t.Fatal("Stale = false for a blob of a key that is not active")
	}
	fresh, _ := rotated.Seal(nil, []byte("v"), nil)
	if id, _ := gm.SealedKeyID(fresh); id != 2 || rotated.Stale(fresh) {
		t.Fatalf("a new blob: key id %d, stale %v; want 2, false", id, rotated.Stale(fresh))
	}
	pinned := mustRing(t, "1:"+hexKey1+"\n2:"+hexKey2+"\nactive: 1")
	if pinned.Active() != 1 {
		t.Fatalf("active: 1 gave active key %d", pinned.Active())
	}
	retired := mustRing(t, "2:"+hexKey2)
	if _, err := retired.Open(nil, sealed, nil); !errors.Is(err, gm.ErrUnknownKey) {
		t.Fatalf("a blob of a key removed from the ring: %v, want ErrUnknownKey", err)
	}
}

func TestParseKeyRing(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	for _, tc := range []struct {
		name, text string
		active     uint8
		ids        []uint8
	}{
		{"hex", "1:" + hexKey1, 1, []uint8{1}},
		{"base64", "3:" + b64, 3, []uint8{3}},
		{"unpadded base64", "3:" + strings.TrimRight(b64, "="), 3, []uint8{3}},
		{"comments, blanks and spaces", "# keys\n\n 1 : " + hexKey1 + "  # old\n2:" + hexKey2 + "\n", 2, []uint8{1, 2}},
		{"comma separated, as in an environment variable", "1:" + hexKey1 + ",2:" + b64, 2, []uint8{1, 2}},
		{"an explicit active key", "active:1\n1:" + hexKey1 + "\n9:" + hexKey2, 1, []uint8{1, 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRing(t, tc.text)
			if r.Active() != tc.active || !slices.Equal(r.IDs(), tc.ids) {
				t.Fatalf("ParseKeyRing(%q): active %d, ids %v; want %d, %v", tc.text, r.Active(), r.IDs(), tc.active, tc.ids)
			}
		})
	}
	for _, tc := range []struct{ name, text, want string }{
		{"empty", "", "no keys"},
		{"only comments", "# none\n", "no keys"},
		{"no colon", hexKey1, "line 1: want ID:KEY"},
		{"id 0", "0:" + hexKey1, "line 1: key id \"0\""},
		{"id 256", "256:" + hexKey1, "line 1: key id \"256\""},
		{"a duplicate id", "1:" + hexKey1 + "\n1:" + hexKey2, "line 2: key id 1 given twice"},
		{"a short key", "1:0011", "line 1: key 1: 4 characters"},
		{"bad hex", "1:" + strings.Repeat("zz", 16), "line 1: key 1: not valid hex or base64"},
		{"an active key not in the ring", "active:5\n1:" + hexKey1, "active key 5 is not among"},
		{"two active lines", "active:1\nactive:1\n1:" + hexKey1, "line 2: a second active"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gm.ParseKeyRing(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseKeyRing(%q) = %v, want an error containing %q", tc.text, err, tc.want)
			}
			if strings.Contains(err.Error(), hexKey1) || strings.Contains(err.Error(), hexKey2) {
				t.Fatalf("the error quotes a key: %v", err)
			}
		})
	}
}

func TestLoadKeyRingRefusesAnOpenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	if err := os.WriteFile(path, []byte("1:"+hexKey1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, err := gm.LoadKeyRing(path); err != nil || r.Active() != 1 {
		t.Fatalf("LoadKeyRing of a 0600 file: %v", err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o644} {
		os.Chmod(path, mode)
		_, err := gm.LoadKeyRing(path)
		if !errors.Is(err, gm.ErrKeyFileMode) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("LoadKeyRing of a %#o file = %v, want ErrKeyFileMode naming the file and chmod 600", mode, err)
		}
	}
	if _, err := gm.LoadKeyRing(dir); err == nil {
		t.Error("LoadKeyRing of a directory: no error")
	}
	if _, err := gm.LoadKeyRing(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadKeyRing of a missing file = %v, want ErrNotExist", err)
	}
}

func TestKeyRingAllocations(t *testing.T) {
	if purego {
		t.Skip("purego build: gmsm's generic SM4-GCM allocates; the assembly builds are checked")
	}
	r := mustRing(t, "1:"+hexKey1)
	plain := make([]byte, 1024)
	place := []byte("objects/cfg")
	buf := make([]byte, 0, len(plain)+gm.SealOverhead)
	out := make([]byte, 0, len(plain))
	var sealed []byte
	if n := testing.AllocsPerRun(100, func() { sealed, _ = r.Seal(buf[:0], plain, place) }); n != 0 {
		t.Errorf("Seal into a buffer with room: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { r.Open(out[:0], sealed, place) }); n != 0 {
		t.Errorf("Open into a buffer with room: %v allocations, want 0", n)
	}
}

func TestNewKeyRing(t *testing.T) {
	k := bytes.Repeat([]byte{7}, 16)
	for _, tc := range []struct {
		name   string
		active uint8
		keys   map[uint8][]byte
	}{
		{"no keys", 1, nil},
		{"id 0", 0, map[uint8][]byte{0: k}},
		{"a short key", 1, map[uint8][]byte{1: k[:8]}},
		{"the active key missing", 2, map[uint8][]byte{1: k}},
	} {
		if _, err := gm.NewKeyRing(tc.active, tc.keys); err == nil {
			t.Errorf("NewKeyRing with %s: no error", tc.name)
		}
	}
}
