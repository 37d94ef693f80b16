package gm_test

import (
	"bytes"
	"crypto/cipher"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm4"

	"github.com/duohuo/duohuo/gm"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The examples of GB/T 32905-2016, appendix A.
var sm3Vectors = []struct{ name, in, want string }{
	{"GB/T 32905 example 1: abc", "abc",
		"66c7f0f4 62eeedd9 d1f2d46b dc10e4e2 4167c487 5cf2f7a2 297da02b 8f4ba8e0"},
	{"GB/T 32905 example 2: abcd repeated 16 times", strings.Repeat("abcd", 16),
		"debe9ff9 2275b8a1 38604889 c18e5a4d 6fdb70e5 387e5765 293dcba3 9c0c5732"},
}

func TestSM3MatchesTheStandard(t *testing.T) {
	for _, v := range sm3Vectors {
		t.Run(v.name, func(t *testing.T) {
			want := unhex(t, v.want)
			if got := gm.SM3([]byte(v.in)); !bytes.Equal(got[:], want) {
				t.Errorf("SM3(%q) = %x, want %x", v.in, got, want)
			}
			// Streaming in uneven pieces gives the same digest.
			h := gm.NewSM3()
			for i := 0; i < len(v.in); i += 7 {
				h.Write([]byte(v.in[i:min(i+7, len(v.in))]))
			}
			if got := h.Sum(nil); !bytes.Equal(got, want) {
				t.Errorf("NewSM3 streaming %q = %x, want %x", v.in, got, want)
			}
			if h.Size() != gm.SM3Size {
				t.Errorf("Size() = %d, want %d", h.Size(), gm.SM3Size)
			}
		})
	}
}

func TestHMACSM3(t *testing.T) {
	a := gm.HMACSM3([]byte("key"), []byte("msg"))
	if b := gm.HMACSM3([]byte("key"), []byte("msg")); a != b {
		t.Error("HMACSM3 is not deterministic")
	}
	if b := gm.HMACSM3([]byte("kex"), []byte("msg")); a == b {
		t.Error("HMACSM3 gives the same MAC under two keys")
	}
	if plain := gm.SM3([]byte("msg")); a == plain {
		t.Error("HMACSM3 equals the unkeyed SM3")
	}
}

// GB/T 32907-2016, appendix A, example 1: one block, key = plaintext.
func TestSM4BlockMatchesTheStandard(t *testing.T) {
	key := unhex(t, "0123456789abcdeffedcba9876543210")
	want := unhex(t, "681edf34d206965e86b3e94f536e4246")
	block, err := sm4.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 16)
	block.Encrypt(got, key)
	if !bytes.Equal(got, want) {
		t.Errorf("SM4 example 1 = %x, want %x", got, want)
	}
}

// RFC 8998, appendix A.1: AEAD_SM4_GCM.
func TestSM4GCMMatchesRFC8998(t *testing.T) {
	key := unhex(t, "0123456789ABCDEFFEDCBA9876543210")
	nonce := unhex(t, "00001234567800000000ABCD")
	aad := unhex(t, "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
	plain := unhex(t, "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"+
		"EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA")
	want := unhex(t, "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"+
		"D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"+
		"83DE3541E4C2B58177E065A9BF7B62EC")
	aead, err := gm.NewSM4GCM(key)
	if err != nil {
		t.Fatal(err)
	}
	if got := aead.Seal(nil, nonce, plain, aad); !bytes.Equal(got, want) {
		t.Errorf("Seal = %x, want %x", got, want)
	}
	// The sealed form of SealSM4GCM is nonce ‖ ciphertext ‖ tag.
	got, err := gm.OpenSM4GCM(key, append(nonce, want...), aad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Errorf("OpenSM4GCM(RFC 8998 vector) = %x, %v; want the plaintext", got, err)
	}
}

func TestSealOpenSM4GCM(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 16)
	sealed, err := gm.SealSM4GCM(key, []byte("secret"), []byte("ctx"))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := gm.SealSM4GCM(key, []byte("secret"), []byte("ctx"))
	if bytes.Equal(sealed, again) {
		t.Error("two seals of one message are equal; want fresh nonces")
	}
	flip := func(i int) []byte { b := bytes.Clone(sealed); b[i] ^= 1; return b }
	tests := []struct {
		name   string
		key    []byte
		sealed []byte
		aad    string
	}{
		{"wrong key", bytes.Repeat([]byte{8}, 16), sealed, "ctx"},
		{"wrong additional data", key, sealed, "other"},
		{"flipped nonce bit", key, flip(0), "ctx"},
		{"flipped ciphertext bit", key, flip(13), "ctx"},
		{"flipped tag bit", key, flip(len(sealed) - 1), "ctx"},
		{"truncated", key, sealed[:20], "ctx"},
		{"empty", key, nil, "ctx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := gm.OpenSM4GCM(tt.key, tt.sealed, []byte(tt.aad)); !errors.Is(err, gm.ErrOpen) {
				t.Errorf("OpenSM4GCM = %v, want ErrOpen", err)
			}
		})
	}
	if got, err := gm.OpenSM4GCM(key, sealed, []byte("ctx")); err != nil || string(got) != "secret" {
		t.Errorf("OpenSM4GCM = %q, %v; want secret", got, err)
	}
}

func TestSM4RejectsWrongKeySizes(t *testing.T) {
	for _, n := range []int{0, 15, 17, 32} {
		if _, err := gm.SealSM4GCM(make([]byte, n), nil, nil); err == nil {
			t.Errorf("SealSM4GCM with a %d-byte key succeeded, want an error", n)
		}
	}
}

var _ cipher.AEAD = mustAEAD()

func mustAEAD() cipher.AEAD { a, _ := gm.NewSM4GCM(make([]byte, 16)); return a }

func TestSM2SignVerify(t *testing.T) {
	priv, err := gm.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := gm.GenerateKey()
	msg := []byte("audit chain head")
	sig, err := priv.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public()
	if !pub.Verify(msg, sig) {
		t.Fatal("Verify(own signature) = false")
	}
	bad := bytes.Clone(sig)
	bad[len(bad)-1] ^= 1
	tests := []struct {
		name string
		pub  *gm.PublicKey
		msg  []byte
		sig  []byte
	}{
		{"other key", other.Public(), msg, sig},
		{"other message", pub, []byte("audit chain tail"), sig},
		{"flipped signature bit", pub, msg, bad},
		{"empty signature", pub, msg, nil},
		{"garbage signature", pub, msg, []byte("not asn.1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.pub.Verify(tt.msg, tt.sig) {
				t.Error("Verify = true, want false")
			}
		})
	}
	// Keys survive their byte forms.
	priv2, err := gm.ParsePrivateKey(priv.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	pub2, err := gm.ParsePublicKey(pub.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sig2, _ := priv2.Sign(msg)
	if !pub2.Verify(msg, sig2) || !pub2.Verify(msg, sig) {
		t.Error("keys parsed from Bytes do not sign/verify like the originals")
	}
	for _, b := range [][]byte{
		{4, 1, 2},
		make([]byte, 65), // no 0x04 prefix
		// A compressed point that gmsm v0.44.1 decodes to a point off the
		// curve (found by FuzzParsePublicKey).
		[]byte("\x0370000000000000000000000700B00000"),
		append([]byte{4}, make([]byte, 64)...), // (0, 0) is not on the curve
	} {
		if _, err := gm.ParsePublicKey(b); err == nil {
			t.Errorf("ParsePublicKey(%x) succeeded, want an error", b)
		}
	}
	if _, err := gm.ParsePrivateKey(make([]byte, 32)); err == nil {
		t.Error("ParsePrivateKey(zero scalar) succeeded, want an error")
	}
}

// The signature example of GB/T 32918.5-2017 (GM/T 0003.5-2012), appendix
// A, on the recommended curve: message "message digest", default user ID.
func TestSM2VerifiesTheStandardExample(t *testing.T) {
	pub, err := gm.ParsePublicKey(unhex(t, "04"+
		"09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"+
		"CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"))
	if err != nil {
		t.Fatal(err)
	}
	r := new(big.Int).SetBytes(unhex(t, "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"))
	s := new(big.Int).SetBytes(unhex(t, "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"))
	sig, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Verify([]byte("message digest"), sig) {
		t.Fatal("the standard's (r, s) does not verify")
	}
	if pub.Verify([]byte("message digesT"), sig) {
		t.Fatal("the standard's (r, s) verifies another message")
	}
	priv, err := gm.ParsePrivateKey(unhex(t, "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(priv.Public().Bytes(), pub.Bytes()) {
		t.Errorf("public key of the standard's private key = %x, want %x", priv.Public().Bytes(), pub.Bytes())
	}
}
