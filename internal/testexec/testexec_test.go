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
