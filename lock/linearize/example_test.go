package linearize_test

import (
	"context"
	"fmt"
	"time"

	"github.com/duohuo/duohuo/lock/linearize"
)

// Run four clients of the fenced etcd lock for a second against a cluster
// given by its endpoints (here a 3-member embedded one) and check the
// histories.
func ExampleRun() {
	env := linearize.Env{Endpoints: cluster.Endpoints()}
	res, err := linearize.Run(context.Background(), env, linearize.Etcdlock, linearize.Faults["none"],
		linearize.Config{Clients: 4, Duration: time.Second, TTL: time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("mutex:", res.Mutex, "register:", res.Register, "linearizable:", res.Linearizable())
	// Output:
	// mutex: ok register: ok linearizable: true
}
