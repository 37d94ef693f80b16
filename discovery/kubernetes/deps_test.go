package kubernetes_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestLinksNoAPITypes keeps k8s.io/api and client-go's typed clientset out
// of the source: they register every API group in one scheme and add some
// 35 MB to the binary. The dynamic client and the informer are enough.
func TestLinksNoAPITypes(t *testing.T) {
	deptest.None(t,
		"k8s.io/api/...",
		"k8s.io/client-go/kubernetes/...",
		"github.com/duohuo/duohuo/internal/...",
	)
}
