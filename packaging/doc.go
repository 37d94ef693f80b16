// Package packaging holds what the RPM and DEB packages of duohuo are made
// of (nfpm.yaml, the systemd unit, the default configuration, the package
// scripts, the man page, the changelog) and the tests that build the
// packages, lint them and install them: rpm into a root with rpm --root,
// and the deb with dpkg -i into a minimal Debian root, where the installed
// binary is started and answers /readyz. docs/install.md describes them.
//
// The tests need outside programs (make, rpm, dpkg-deb, lintian, rpmlint,
// debootstrap, chroot) and root for the installs; without one a test is
// skipped, or fails when DUOHUO_REQUIRE_TOOLS=1. DUOHUO_PACKAGES names a
// directory where `make packages` already put the packages, and
// DUOHUO_DEBIAN_ROOT a root made by debian-root.sh; without them the tests
// make their own, once per run.
package packaging
