package audit_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/duohuo/duohuo/audit"
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
