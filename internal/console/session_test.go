package console

import (
	"strings"
	"testing"
	"time"
)

func TestParseSessionID(t *testing.T) {
	good := randomID()
	for _, tc := range []struct {
		v  string
		ok bool
	}{
		{good, true}, {"", false}, {good[1:], false}, {good + "A", false},
		{strings.Repeat("=", len(good)), false}, {strings.Repeat("é", len(good)/2) + "a", false},
	} {
		if _, ok := parseSessionID(tc.v); ok != tc.ok {
			t.Errorf("parseSessionID(%q) ok = %v, want %v", tc.v, ok, tc.ok)
		}
	}
}

func TestSessionsExpireAndAreBounded(t *testing.T) {
	now := time.Unix(0, 0)
	ss := newSessions(time.Hour, 3)
	first := ss.create(writeRights, now)
	for i := range 5 {
		ss.create(readRights, now.Add(time.Duration(i+1)*time.Minute))
	}
	if len(ss.m) != 3 {
		t.Errorf("%d sessions kept, want 3", len(ss.m))
	}
	if ss.get(first.id, now) != nil {
		t.Errorf("the session expiring first was kept over the cap")
	}
	s := ss.create(writeRights, now)
	if ss.get(s.id, now.Add(59*time.Minute)) == nil || ss.get(s.id, now.Add(time.Hour)) != nil {
		t.Errorf("a session lives other than its TTL")
	}
}

func FuzzLogin(f *testing.F) {
	for _, s := range []string{`{"token": "abc"}`, `{}`, `null`, `{"token": null}`, `{"token": 1}`, "", strings.Repeat("a", maxLoginBody+2), randomID()} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := parseLogin(strings.NewReader(s))
		if err == nil && len(s) > maxLoginBody {
			t.Fatalf("parseLogin accepted %d bytes", len(s))
		}
		if err != nil && tok != "" {
			t.Fatalf("parseLogin returned a token with an error")
		}
		if id, ok := parseSessionID(s); ok && (id != s || len(s) != idLen) {
			t.Fatalf("parseSessionID(%q) = %q", s, id)
		}
	})
}
