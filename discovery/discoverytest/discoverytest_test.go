package discoverytest_test

import (
	"errors"
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/discoverytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSource(t *testing.T) {
	a := discovery.NewAggregator(discovery.AggregatorConfig{})
	defer a.Close()
	src := discoverytest.NewSource("fake")
	if err := src.Set(map[string][]discovery.Instance{"api": discoverytest.Instances("10.0.0.1:80")}); err != nil {
		t.Fatalf("Set before Watch = %v, want nil", err)
	}
	if err := a.Add(src); err != nil {
		t.Fatal(err)
	}
	discoverytest.WaitView(t, a, "api", func(v *discovery.ServiceView) bool { return v != nil && len(v.Instances) == 1 })
	if n := src.Watches(); n != 1 {
		t.Errorf("Watches() = %d, want 1", n)
	}

	t.Run("Set while watching returns the aggregator's verdict", func(t *testing.T) {
		err := src.Set(map[string][]discovery.Instance{"api": discoverytest.Instances("10.0.0.1:80", "10.0.0.1:80")})
		if !errors.Is(err, discovery.ErrDuplicate) {
			t.Errorf("Set(duplicate) = %v, want ErrDuplicate", err)
		}
	})
	t.Run("Fail while watching marks the source stale", func(t *testing.T) {
		boom := errors.New("registry down")
		src.Fail(boom)
		if st := a.Status()[0]; !st.Stale || !errors.Is(st.Err, boom) {
			t.Errorf("Status()[0] = %+v, want stale with %v", st, boom)
		}
	})
}

func ExampleSource() {
	agg := discovery.NewAggregator(discovery.AggregatorConfig{})
	defer agg.Close()
	src := discoverytest.NewSource("fake")
	_ = src.Set(map[string][]discovery.Instance{"api": discoverytest.Instances("10.0.0.1:80", "[fd00::1]:80")})
	_ = agg.Add(src)

	changes, cancel := agg.Subscribe()
	defer cancel()
	for agg.View("api") == nil {
		<-changes
	}
	for _, in := range agg.View("api").Instances {
		fmt.Println(in.ID, in.Weight, in.Source)
	}
	// Output:
	// 10.0.0.1:80 100 fake
	// [fd00::1]:80 100 fake
}
