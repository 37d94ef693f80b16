package replica

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Recovery never refuses to start because of one record: a record it
// cannot decode (a checkpointed object, a log entry, a meta value) is moved
// into the quarantine bucket of the store file, byte for byte, with where
// it came from and why it was refused, and the rest loads. The store
// reports what it holds there (Store.Quarantined, the
// duohuo_replica_quarantined_records gauge, GET /v1/kv/, `duohuo kv
// status`), and keeps it until an operator deletes the file's quarantine
// bucket: the data may still be recovered by hand or by a later version.
//
// Layout: quarantine/<8-byte sequence>/ is a bucket per record with
//
//	bucket  the bucket the record was in: "objects", "log" or "meta"
//	key     its key there
//	value   its value, unchanged
//	error   why recovery refused it
//	time    when, RFC 3339
var bucketQuarantine = []byte("quarantine")

// Quarantined describes a record that recovery could not load and kept
// aside in the store file.
type Quarantined struct {
	// Record is where it was: "objects/NAME", "log/SEQ" (the sequence in
	// hex) or "meta/KEY".
	Record string `json:"record"`
	// Object is the name of the object the record belongs to, when known
	// (a log entry names its object).
	Object string    `json:"object,omitempty"`
	Size   int       `json:"size"`  // bytes of the record's value
	Error  string    `json:"error"` // why recovery refused it
	Time   time.Time `json:"time"`  // when it was quarantined
}

// badRecord is a record found undecodable during recovery, still in place.
type badRecord struct {
	bucket, key []byte
	object      string
	err         error
}

func (b badRecord) name() string {
	if string(b.bucket) == string(bucketLog) {
		return fmt.Sprintf("log/%x", b.key)
	}
	return string(b.bucket) + "/" + string(b.key)
}

// quarantine moves bad records from their buckets into the quarantine
// bucket, in tx, and returns their descriptions.
func quarantine(tx *bolt.Tx, bad []badRecord, now time.Time) ([]Quarantined, error) {
	if len(bad) == 0 {
		return nil, nil
	}
	q, err := tx.CreateBucketIfNotExists(bucketQuarantine)
	if err != nil {
		return nil, err
	}
	var out []Quarantined
	for _, r := range bad {
		src := tx.Bucket(r.bucket)
		v := append([]byte(nil), src.Get(r.key)...)
		seq, err := q.NextSequence()
		if err != nil {
			return nil, err
		}
		b, err := q.CreateBucket(binary.BigEndian.AppendUint64(nil, seq))
		if err != nil {
			return nil, err
		}
		for _, kv := range [][2][]byte{
			{[]byte("bucket"), r.bucket},
			{[]byte("key"), append([]byte(nil), r.key...)},
			{[]byte("value"), v},
			{[]byte("error"), []byte(r.err.Error())},
			{[]byte("time"), []byte(now.UTC().Format(time.RFC3339))},
		} {
			if err := b.Put(kv[0], kv[1]); err != nil {
				return nil, err
			}
		}
		if err := src.Delete(r.key); err != nil {
			return nil, err
		}
		out = append(out, Quarantined{Record: r.name(), Object: r.object, Size: len(v), Error: r.err.Error(), Time: now.UTC().Truncate(time.Second)})
	}
	return out, nil
}

// readQuarantine lists the records held in quarantine, oldest first.
func readQuarantine(tx *bolt.Tx) []Quarantined {
	q := tx.Bucket(bucketQuarantine)
	if q == nil {
		return nil
	}
	var out []Quarantined
	_ = q.ForEachBucket(func(k []byte) error {
		b := q.Bucket(k)
		r := badRecord{bucket: b.Get([]byte("bucket")), key: b.Get([]byte("key"))}
		e := Quarantined{Record: r.name(), Size: len(b.Get([]byte("value"))), Error: string(b.Get([]byte("error")))}
		switch string(r.bucket) {
		case string(bucketLog):
			e.Object, _, _ = logEntryKey(b.Get([]byte("value")))
		case string(bucketObjects):
			e.Object = string(r.key)
		}
		e.Time, _ = time.Parse(time.RFC3339, string(b.Get([]byte("time"))))
		out = append(out, e)
		return nil
	})
	return out
}

// Quarantined returns the records that recovery could not load and keeps
// aside in the store file (see docs/replication.md, "Quarantine"), oldest
// first; nil if there are none. The rest of the store loaded without them.
func (s *Store) Quarantined() []Quarantined {
	return append([]Quarantined(nil), s.disk.quarantined...)
}
