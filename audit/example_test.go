package audit_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/duohuo/duohuo/audit"
	"github.com/duohuo/duohuo/gm"
)

func Example() {
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "etcd-audit.jsonl")

	l, err := audit.Open(path, audit.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	redact := audit.DefaultRedactor()
	for _, key := range []string{"/config/db/host", "/config/db/password", "/config/db/port"} {
		l.Append(audit.Record{
			Time:    time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
			Method:  "/etcdserverpb.KV/Put",
			Key:     redact.Redact(key),
			Outcome: "OK",
		})
	}
	l.Close()

	data, _ := os.ReadFile(path)
	rep, err := audit.Verify(bytes.NewReader(data), audit.VerifyOptions{})
	fmt.Println(rep.Records, err)

	// Someone edits the second record.
	edited := bytes.Replace(data, []byte("[secret]"), []byte("password"), 1)
	_, err = audit.Verify(bytes.NewReader(edited), audit.VerifyOptions{})
	var ce *audit.ChainError
	fmt.Println(errors.As(err, &ce), ce.Record, errors.Is(err, audit.ErrTampered))
	fmt.Println(err)
	// Output:
	// 3 <nil>
	// true 2 true
	// record 2 (line 2): tampered: contents edited: hash does not match
}

func ExampleOptions_atRest() {
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "etcd-audit.jsonl")
	keys, _ := gm.ParseKeyRing("1:000102030405060708090a0b0c0d0e0f")

	l, err := audit.Open(path, audit.Options{AtRest: keys})
	if err != nil {
		fmt.Println(err)
		return
	}
	l.Append(audit.Record{Time: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), Method: "/etcdserverpb.KV/Put", Key: "/orders/42", Outcome: "OK"})
	l.Close()

	data, _ := os.ReadFile(path)
	fmt.Println("clear key on disk:", bytes.Contains(data, []byte("/orders/42")))
	rep, err := audit.Verify(bytes.NewReader(data), audit.VerifyOptions{}) // no keys: the chain only
	fmt.Println(rep.Records, rep.Sealed, err)

	r, _, _ := audit.NewReader(bytes.NewReader(data), nil).Next()
	err = audit.Unseal(&r, keys)
	fmt.Println(r.KeyID, r.Key, err)
	// Output:
	// clear key on disk: false
	// 1 1 <nil>
	// 1 /orders/42 <nil>
}
