package gray_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependencies keeps gray a pure package: the standard library only, plus
// request, discovery and color (the one baggage reader)
// (docs/architecture.md, "heavy dependencies stay at the edges"), so that any
// service can import it.
func TestDependencies(t *testing.T) {
	deptest.Only(t,
		"github.com/duohuo/duohuo/request",
		"github.com/duohuo/duohuo/discovery",
		"github.com/duohuo/duohuo/color",
		"github.com/duohuo/duohuo/internal/httpjson",
	)
}
