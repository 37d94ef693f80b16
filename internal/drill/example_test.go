package drill_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/duohuo/duohuo/internal/drill"
)

// An open-loop load against a target that fails one request in ten: every
// request is scheduled on its tick and summarized.
func ExampleLoad_Run() {
	var n atomic.Int64
	target := func(context.Context) drill.Result { // called from many goroutines
		if n.Add(1)%10 == 0 {
			return drill.Result{Status: 503}
		}
		return drill.Result{Status: 200, By: "ctyun-1"}
	}
	rec, err := drill.Load{Rate: 100, Duration: 200 * time.Millisecond}.Run(context.Background(), target)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := drill.Summarize(rec.Samples())
	fmt.Printf("%d requests, %d ok, failures %v, served by %v\n", s.Requests, s.OK, s.Failures, s.ByCloud)
	// Output: 20 requests, 18 ok, failures map[503:2], served by map[ctyun:18]
}
