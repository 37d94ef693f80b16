package kubernetes_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/internal/etcdtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, append(etcdtest.LeakOptions(),
		// client-go's process-wide workers, started on first use and
		// never stopped: the rate-limited queue's metrics and the
		// watch-list's decoder pools.
		goleak.IgnoreTopFunction("k8s.io/client-go/util/workqueue.(*delayingType[...]).waitingLoop"),
		goleak.IgnoreAnyFunction("k8s.io/apimachinery/pkg/util/wait.BackoffUntil"),
	)...)
}
