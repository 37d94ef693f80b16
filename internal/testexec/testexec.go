// Package testexec starts a test binary again as a child process (to test a
// restart or a kill -9) in a way that also works under qemu user-mode
// emulation.
//
// Under emulation without binfmt_misc, the kernel cannot execute a foreign
// binary: exec of os.Args[0] fails with "exec format error". build/crosstest.sh
// therefore exports DUOHUO_TEST_EXEC (e.g. "qemu-aarch64-static"), and
// Command puts it in front of the program, as `go test -exec` does for the
// parent.
package testexec

import (
	"os"
	"os/exec"
	"strings"
)

// Env is the variable that names the emulator to run child binaries with.
const Env = "DUOHUO_TEST_EXEC"

// Command returns an exec.Cmd for name with args, run through the emulator
// named by $DUOHUO_TEST_EXEC when it is set.
func Command(name string, args ...string) *exec.Cmd {
	if w := strings.Fields(os.Getenv(Env)); len(w) > 0 {
		return exec.Command(w[0], append(append(w[1:], name), args...)...)
	}
	return exec.Command(name, args...)
}
