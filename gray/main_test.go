package gray_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/gray"
)

func TestMain(m *testing.M) {
	if os.Getenv("GRAY_BUCKET_CHILD") == "1" {
		// The restarted process of TestUserHashIsStableAcrossRestarts.
		if err := printCanaryUsers(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func printCanaryUsers(w *os.File) error {
	n, err := strconv.Atoi(os.Getenv("GRAY_BUCKET_N"))
	if err != nil {
		return err
	}
	r, err := gray.Compile(hashPolicy(5))
	if err != nil {
		return err
	}
	for i := range n {
		v, err := gray.Probe{Headers: map[string]string{"x-user-id": "user-" + strconv.Itoa(i)}}.View()
		if err != nil {
			return err
		}
		if r.Route(v, "").Subset == "v2" {
			fmt.Fprintf(w, "in %d\n", i)
		}
	}
	return nil
}
