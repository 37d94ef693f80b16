package tlcp

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"testing"
)

func TestExtractPadding(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		remove  int
		good    bool
	}{
		{"one byte of padding length 0", []byte{9, 9, 0}, 1, true},
		{"four bytes of 3", []byte{9, 3, 3, 3, 3}, 4, true},
		{"all of the payload", []byte{2, 2, 2}, 3, true},
		{"a padding byte differs", []byte{9, 3, 2, 3, 3}, 1, false},
		{"longer than the payload", []byte{5, 5}, 1, false},
		{"empty", nil, 0, false},
	}
	for _, tt := range tests {
		remove, good := extractPadding(tt.payload)
		if tt.good && (good != 255 || remove != tt.remove) || !tt.good && good != 0 {
			t.Errorf("extractPadding(%v) = %d, %d; want %d, good %v", tt.payload, remove, good, tt.remove, tt.good)
		}
	}
}

// cbcPair returns the writing and reading halves of one CBC direction.
func cbcPair() (w, r *halfConn) {
	s := suiteByID(ECC_SM4_CBC_SM3)
	key, mac, iv := make([]byte, 16), make([]byte, 32), make([]byte, 16)
	rand.Read(key)
	rand.Read(mac)
	return &halfConn{cipher: s.newCipher(key, mac, iv)}, &halfConn{cipher: s.newCipher(key, mac, iv)}
}

func TestCBCRecords(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 17, 1000, maxPlaintext} {
		w, r := cbcPair()
		data := bytes.Repeat([]byte{0xa5}, n)
		rec, err := w.encrypt(nil, recordTypeApplicationData, data, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.decrypt(rec)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("CBC round trip of %d bytes = %d bytes, %v", n, len(got), err)
		}
	}
}

// TestCBCPaddingIsChecked re-encrypts a record whose MAC is right but whose
// padding is not, which must be refused with bad_record_mac like a bad MAC.
func TestCBCPaddingIsChecked(t *testing.T) {
	w, r := cbcPair()
	rec, err := w.encrypt(nil, recordTypeApplicationData, []byte("0123456789"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := w.cipher.(*cbcCipher)
	payload := rec[recordHeaderLen:]
	iv, body := payload[:16], payload[16:]
	plain := make([]byte, len(body))
	decrypter(c, iv).CryptBlocks(plain, body)
	// plain = data(10) ‖ MAC(32) ‖ padding(6 bytes of 5).
	if plain[len(plain)-1] != 5 {
		t.Fatalf("padding length %d, want 5", plain[len(plain)-1])
	}
	plain[len(plain)-3] = 4 // one padding byte wrong
	encrypter(c, iv).CryptBlocks(body, plain)
	if _, err := r.decrypt(rec); !errors.Is(err, alertBadRecordMAC) {
		t.Errorf("decrypt with bad padding = %v, want bad_record_mac", err)
	}
}

func decrypter(c *cbcCipher, iv []byte) cipher.BlockMode { return cipher.NewCBCDecrypter(c.block, iv) }
func encrypter(c *cbcCipher, iv []byte) cipher.BlockMode { return cipher.NewCBCEncrypter(c.block, iv) }
