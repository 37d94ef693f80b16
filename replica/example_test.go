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

// Bytes that are not UTF-8 appear in the HTTP API's JSON in base64 after
// BinaryPrefix; ParseJSONString gives them back.
func ExampleJSONString() {
	for _, b := range [][]byte{[]byte("10%"), {0xff}, []byte("base64:x")} {
		s := replica.JSONString(b)
		back, _ := replica.ParseJSONString(s)
		fmt.Printf("%q %q %v\n", b, s, string(back) == string(b))
	}
	// Output:
	// "10%" "10%" true
	// "\xff" "base64:/w==" true
	// "base64:x" "base64:YmFzZTY0Ong=" true
}
