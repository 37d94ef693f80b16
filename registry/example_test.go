package registry_test

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/registry"
)

// What a registrar writes as an instance's metadata: labels over metadata,
// and the locality under the keys the discovery sources read.
func ExampleMetadata() {
	m := registry.Metadata(discovery.Instance{
		Addr:     netip.MustParseAddrPort("10.0.0.7:8080"),
		Locality: discovery.Locality{Cloud: "ctyun", Region: "cn-north-1"},
		Labels:   map[string]string{"version": "v2"},
		Metadata: map[string]string{"version": "old", "owner": "shop"},
	})
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Printf("%s=%s\n", k, m[k])
	}
	// Output:
	// cloud=ctyun
	// owner=shop
	// region=cn-north-1
	// version=v2
}
