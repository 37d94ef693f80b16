package discovery_test

import (
	"net/netip"

	"github.com/google/go-cmp/cmp"
	"io"
	"log/slog"
)

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// cmpAddr lets cmp.Diff compare netip values, whose fields are unexported.
var cmpAddr = cmp.Options{
	cmp.Comparer(func(x, y netip.AddrPort) bool { return x == y }),
	cmp.Comparer(func(x, y netip.Addr) bool { return x == y }),
}
