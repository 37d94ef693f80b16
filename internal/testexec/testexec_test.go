package testexec_test

import (
	"reflect"
	"testing"

	"github.com/duohuo/duohuo/internal/testexec"
)

func TestCommand(t *testing.T) {
	t.Setenv(testexec.Env, "")
	if got := testexec.Command("/bin/prog", "-x").Args; !reflect.DeepEqual(got, []string{"/bin/prog", "-x"}) {
		t.Errorf("without %s: args %q", testexec.Env, got)
	}
	t.Setenv(testexec.Env, "qemu-aarch64-static -cpu cortex-a72")
	got := testexec.Command("/bin/prog", "-x").Args
	want := []string{"qemu-aarch64-static", "-cpu", "cortex-a72", "/bin/prog", "-x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with %s: args %q, want %q", testexec.Env, got, want)
	}
}

func TestToolFindsAProgram(t *testing.T) {
	if p := testexec.Tool(t, "sh", "it is part of every system"); p == "" {
		t.Fatal("Tool(sh) returned no path")
	}
}

// A missing program fails the test when DUOHUO_REQUIRE_TOOLS is 1.
func TestToolRequired(t *testing.T) {
	t.Setenv(testexec.RequireEnv, "1")
	ft := &fakeTB{TB: t}
	func() {
		defer func() { _ = recover() }()
		testexec.Tool(ft, "duohuo-no-such-program", "nowhere")
	}()
	if !ft.failed || ft.skipped {
		t.Errorf("failed = %v, skipped = %v; want a failure", ft.failed, ft.skipped)
	}
	t.Setenv(testexec.RequireEnv, "")
	ft = &fakeTB{TB: t}
	func() {
		defer func() { _ = recover() }()
		testexec.Tool(ft, "duohuo-no-such-program", "nowhere")
	}()
	if ft.failed || !ft.skipped {
		t.Errorf("failed = %v, skipped = %v; want a skip", ft.failed, ft.skipped)
	}
}

// fakeTB records Fatalf and Skipf; both stop the caller with a panic, as
// runtime.Goexit would.
type fakeTB struct {
	testing.TB
	failed, skipped bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}
func (f *fakeTB) Skipf(string, ...any) {
	f.skipped = true
	panic("skip")
}
