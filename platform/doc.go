// Package platform fingerprints the machine duohuo runs on: the Linux
// distribution (with the Chinese domestic "信创" distributions Kylin, UOS,
// NFSChina, openEuler, Anolis and deepin told apart), the CPU vendor
// (HiSilicon Kunpeng, Phytium, Hygon, Zhaoxin, Loongson, Intel, AMD), the
// architecture, the kernel, the cgroup CPU quota and memory limit, and the Go
// runtime's view (GOMAXPROCS, NumCPU).
//
// Everything is read through an [fs.FS] rooted at a root filesystem, so the
// same code fingerprints the running machine, a chroot or a test fixture:
//
//	info, err := platform.Detect(os.DirFS("/"))
//	if err != nil {
//		// info is still filled as far as the readable files allowed
//		log.Printf("platform: %v", err)
//	}
//	fmt.Println(info.OS.Distro, info.CPU.Vendor, info.Arch, info.Domestic())
//
// Missing files are not errors: the fields they would fill read "unknown"
// (or zero for numbers). A malformed file is reported in the returned error,
// naming the file, and never causes a panic.
//
// The package imports only the standard library. It holds one platform
// default with a real user, the crypto-suite preference for "auto"
// ([ResolveCrypto]); it registers nothing and starts no goroutines.
package platform
