package platform_test

import (
	"fmt"
	"os"

	"github.com/duohuo/duohuo/platform"
)

// Example fingerprints a root filesystem; production code passes
// os.DirFS("/"), here a fixture of Kylin V10 server on Kunpeng 920.
func Example() {
	info, err := platform.Detect(os.DirFS("testdata/kylin-v10-server-kunpeng920"))
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(info.OS.Distro, info.OS.VersionID)
	fmt.Println(info.CPU.Vendor, info.CPU.Model, info.Arch)
	fmt.Println("domestic:", info.Domestic())
	pref, reason, _ := platform.ResolveCrypto("auto", info)
	fmt.Println(pref, "-", reason)
	// Output:
	// kylin-server V10
	// hisilicon Kunpeng 920 arm64
	// domestic: true
	// gm-first - auto: domestic distribution kylin-server
}
