package deptest

import "testing"

func TestMatches(t *testing.T) {
	patterns := []string{"github.com/duohuo/duohuo/request", "github.com/goccy/go-yaml/..."}
	for p, want := range map[string]bool{
		"github.com/duohuo/duohuo/request":     true,
		"github.com/duohuo/duohuo/request/sub": false,
		"github.com/goccy/go-yaml":             true,
		"github.com/goccy/go-yaml/ast":         true,
		"github.com/goccy/go-yamlx":            false,
		"go.etcd.io/etcd/client/v3":            false,
	} {
		if got := matches(patterns, p); got != want {
			t.Errorf("matches(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestOnly runs the check on this package itself, which imports nothing
// outside the standard library.
func TestOnly(t *testing.T) { Only(t) }

// TestNone runs the check on this package itself: nothing outside the
// standard library, so no pattern can match.
func TestNone(t *testing.T) { None(t, "github.com/duohuo/duohuo/...", "go.etcd.io/...") }
