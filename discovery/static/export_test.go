package static

import (
	"math"

	"github.com/duohuo/duohuo/discovery"
)

// ParseSplit is Parse with an "instances" file of any size read in pieces
// of runItems instances; ParseWhole never splits.
func ParseSplit(name string, data []byte, service string, runItems int) (map[string][]discovery.Instance, error) {
	return parse(name, data, service, splitting{minSize: 0, runItems: runItems})
}

func ParseWhole(name string, data []byte, service string) (map[string][]discovery.Instance, error) {
	return parse(name, data, service, splitting{minSize: math.MaxInt})
}
