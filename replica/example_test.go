package replica_test

import (
	"context"
	"fmt"
	"os"

	"github.com/duohuo/duohuo/crdt"
	"github.com/duohuo/duohuo/replica"
)

// A store without BindAddr runs alone: writes are durable on disk and
// survive a restart.
func ExampleStore() {
	dir, _ := os.MkdirTemp("", "replica-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	st, err := replica.Open(ctx, replica.Config{Name: "beijing", Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	st.Update(ctx, "gray/rules", func(tx *replica.Txn) error {
		tx.Put("checkout", []byte("10%"))
		return nil
	})
	st.Update(ctx, "ratelimit/api", func(tx *replica.Txn) error {
		tx.Add(3)
		return nil
	})
	st.Close()

	st, _ = replica.Open(ctx, replica.Config{Name: "beijing", Dir: dir})
	defer st.Close()
	rules, _ := st.Get("gray/rules")
	v, _ := rules.(*crdt.ORMap).Get("checkout")
	hits, _ := st.Get("ratelimit/api")
	fmt.Printf("checkout=%s hits=%d objects=%v\n", v, hits.(*crdt.PNCounter).Value(), st.Keys(""))
	// Output: checkout=10% hits=3 objects=[gray/rules ratelimit/api]
}
