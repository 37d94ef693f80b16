package color

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrToken is wrapped by every reason a token is refused.
var ErrToken = errors.New("color: bad token")

// tokenMACLen is the MAC length kept in a token: 128 bits of HMAC-SHA256,
// as in many compact tokens (RFC 2104, section 5, allows truncation to at
// least half the output).
const tokenMACLen = 16

// Sign returns a token that vouches for lane until now + ttl, signed with
// Keys[0]. The format is compact and readable:
//
//	v1.<lane>.<expiry, Unix seconds>.<base64url(HMAC-SHA256(key, "v1.<lane>.<expiry>"))[:16 bytes]>
//
// e.g. "v1.gray.1798000000.CJ8rbGTP8BMC-9UNwze67A" (lane gray, key
// "example-key-0123456789"). Lanes may contain '.', so a token is split at
// its first and last two dots.
func (p *Propagator) Sign(lane string, ttl time.Duration) (string, error) {
	if len(p.keys) == 0 {
		return "", fmt.Errorf("%w: no key to sign with", ErrToken)
	}
	if !ValidLane(lane) {
		return "", fmt.Errorf("%w: lane %q is not a valid lane name", ErrToken, lane)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("%w: ttl %v is not positive", ErrToken, ttl)
	}
	payload := "v1." + lane + "." + strconv.FormatInt(p.now().Add(ttl).Unix(), 10)
	return payload + "." + base64.RawURLEncoding.EncodeToString(mac(p.keys[0], payload)), nil
}

// Verify returns the lane a token vouches for, if one of Keys signed it
// and it has not expired. The MAC is compared in constant time.
func (p *Propagator) Verify(token string) (string, error) {
	if len(token) > 256 {
		return "", fmt.Errorf("%w: longer than 256 bytes", ErrToken)
	}
	rest, ok := strings.CutPrefix(token, "v1.")
	if !ok {
		return "", fmt.Errorf("%w: not a v1 token", ErrToken)
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return "", fmt.Errorf("%w: no signature", ErrToken)
	}
	body, sig := rest[:i], rest[i+1:]
	j := strings.LastIndexByte(body, '.')
	if j < 0 {
		return "", fmt.Errorf("%w: no expiry", ErrToken)
	}
	lane, expS := body[:j], body[j+1:]
	if !ValidLane(lane) {
		return "", fmt.Errorf("%w: lane %q is not a valid lane name", ErrToken, lane)
	}
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: expiry %q is not a number", ErrToken, expS)
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || len(got) != tokenMACLen {
		return "", fmt.Errorf("%w: malformed signature", ErrToken)
	}
	payload := token[:len(token)-len(sig)-1]
	valid := false
	for _, k := range p.keys {
		// Check every key, so the time taken does not say which one signed.
		if hmac.Equal(got, mac(k, payload)) {
			valid = true
		}
	}
	if !valid {
		return "", fmt.Errorf("%w: signature does not verify", ErrToken)
	}
	if p.now().Unix() >= exp {
		return "", fmt.Errorf("%w: expired at %s", ErrToken, time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	return lane, nil
}

func mac(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)[:tokenMACLen]
}
