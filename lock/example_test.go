package lock_test

import (
	"errors"
	"fmt"

	"github.com/duohuo/duohuo/lock"
)

// A store protected by a lock keeps a Fence and admits the caller's token on
// every access; a holder whose lease was superseded is refused.
func ExampleFence() {
	var fence lock.Fence
	fmt.Println(fence.Admit(41)) // first holder
	fmt.Println(fence.Admit(57)) // its lease expired; a new holder
	err := fence.Admit(41)       // the first holder wakes up and writes
	fmt.Println(errors.Is(err, lock.ErrStaleToken))
	fmt.Println(fence.Highest())
	// Output:
	// <nil>
	// <nil>
	// true
	// 57
}
