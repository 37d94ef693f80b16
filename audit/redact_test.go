package audit_test

import (
	"strings"
	"testing"

	"github.com/duohuo/duohuo/audit"
)

func TestDefaultRedactor(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"password segment", "/config/db/password", "/config/db/[secret]"},
		{"secret inside a segment, any case", "/svc/API_Secret_Key/v", "/svc/[secret]/v"},
		{"token at the start", "token", "[secret]"},
		{"every matching segment", "/tokens/a/passwd", "/[secret]/a/[secret]"},
		{"trailing slash kept", "/config/Password/", "/config/[secret]/"},
		{"ordinary keys pass", "/config/db/host", "/config/db/host"},
		{"lock keys pass", "/duohuo/lock/orders/694d8f3a", "/duohuo/lock/orders/694d8f3a"},
		{"binary keys become hex", "\xff\x00k", "0xff006b"},
		{"empty key", "", ""},
	}
	r := audit.DefaultRedactor()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCustomRedactRules(t *testing.T) {
	r, err := audit.NewRedactor(audit.RedactRules{Words: []string{"PIN"}, Patterns: []string{`^/users/([^/]+)`, `\d{11}`}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, in, want string }{
		{"group replaced, rest kept", "/users/alice/profile", "/users/[secret]/profile"},
		{"rule without groups replaces the whole match", "/orders/by-phone/13800138000", "/orders/by-phone/[secret]"},
		{"rules apply in order", "/users/13800138000/x", "/users/[secret]/x"},
		{"no match", "/orders/1", "/orders/1"},
		{"words are matched case-insensitively, before patterns", "/users/bob/pin-code", "/users/[secret]/[secret]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if _, err := audit.NewRedactor(audit.RedactRules{Patterns: []string{`ok`, `(`}}); err == nil || !strings.Contains(err.Error(), "pattern 1") {
		t.Errorf("NewRedactor with a bad pattern = %v, want an error naming pattern 1", err)
	}
	if _, err := audit.NewRedactor(audit.RedactRules{Words: []string{"a/b"}}); err == nil {
		t.Error("NewRedactor with a word containing / succeeded, want an error")
	}
}
