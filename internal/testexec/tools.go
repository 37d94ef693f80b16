package testexec

import (
	"os"
	"os/exec"
	"testing"
)

// RequireEnv is the variable that makes a missing outside program a test
// failure instead of a skip: .ci/run sets it to 1, so that CI never passes
// by skipping.
const RequireEnv = "DUOHUO_REQUIRE_TOOLS"

// Tool returns the path of the outside program name (h2spec, promtool,
// chromium, …) a test needs. When it is not installed the test is skipped
// with a message that says how to install it (install, e.g. "apt-get
// install -y prometheus"), or fails when $DUOHUO_REQUIRE_TOOLS is 1.
func Tool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	Missing(t, name+" is not installed ("+install+")")
	return ""
}

// Missing skips the test with why, something outside the repository it
// needs and does not have (a program, root, a kernel feature), or fails it
// when $DUOHUO_REQUIRE_TOOLS is 1.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s; %s=1 makes this a failure", why, RequireEnv)
	}
	t.Skipf("skipped: %s; set %s=1 to make this a failure", why, RequireEnv)
}
