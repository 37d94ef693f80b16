package linearize_test

import (
	"context"
	"fmt"
	"time"

	"github.com/duohuo/duohuo/lock/linearize"
)

// Run four clients of the fenced etcd lock for a second against a 3-member
// embedded cluster (started in TestMain with linearize.StartCluster) and
// check the histories.
func ExampleRun() {
	res, err := linearize.Run(context.Background(), cluster.Env(), linearize.Etcdlock, linearize.Faults["none"],
		linearize.Config{Clients: 4, Duration: time.Second, TTL: time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("mutex:", res.Mutex, "register:", res.Register, "linearizable:", res.Linearizable())
	// Output:
	// mutex: ok register: ok linearizable: true
}
