// Package audit writes tamper-evident audit logs: JSON lines chained with
// SM3 (GB/T 32905) so that any edited, removed, inserted or reordered record
// is detected, with the record number, by [Verify] (and `duohuo audit
// verify FILE`).
//
// Each line is one [Record] and carries the hash of the previous line in
// "prev" and its own hash in "hash", computed over the line's exact bytes
// (optionally as HMAC-SM3 under a key, see [Options].Key). A chain's end,
// its [Head], can be copied elsewhere ([Options].HeadFile) to anchor it, so
// that records cut from the end are detected too ([VerifyOptions].Anchor).
//
// A [Log] never blocks its callers: [Log.Append] hands a record to a bounded
// queue and one goroutine writes batches, each synced before the next; a
// full queue drops the record and counts it ([Log.Stats]). Keys are
// redacted before they are recorded ([Redactor]): "/config/db/password"
// becomes "/config/db/[secret]".
//
// The etcd client interceptors that feed a Log are in audit/etcdaudit.
//
//	l, err := audit.Open("/var/log/duohuo/etcd-audit.jsonl", audit.Options{HeadFile: "/var/log/duohuo/etcd-audit.head"})
//	if err != nil { … }
//	defer l.Close()
//	l.Append(audit.Record{Time: time.Now(), Method: "/etcdserverpb.KV/Put", Key: "/config/db/[secret]", Outcome: "OK"})
//
//	f, _ := os.Open("/var/log/duohuo/etcd-audit.jsonl")
//	rep, err := audit.Verify(f, audit.VerifyOptions{})
//	var ce *audit.ChainError
//	if errors.As(err, &ce) { fmt.Println("broken at record", ce.Record) }
package audit
