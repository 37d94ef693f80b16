package nacos_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestImportsNoNacosSDK keeps the source on the standard library: the HTTP
// open API it speaks is a few JSON calls.
func TestImportsNoNacosSDK(t *testing.T) {
	deptest.Only(t, "github.com/duohuo/duohuo/discovery")
}
