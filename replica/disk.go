package replica

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/duohuo/duohuo/crdt"
)

// Layout of the bbolt file:
//
//	meta/replica   8-byte replica id, chosen when the file is created
//	meta/clock     8-byte last hybrid timestamp issued or seen
//	meta/clean     present only while the store is closed cleanly
//	meta/members   the sites garbage collection waits for: a uvarint count,
//	               then each name as a uvarint length and the bytes
//	meta/addrs     the address last seen of every member, for joins after a
//	               restart: a uvarint count, then per member its name and
//	               its "host:port", each a uvarint length and the bytes
//	objects/<key>  checkpointed state of object <key>
//	births/<key>   the birth of object <key> (kinds.go): 8-byte hybrid time,
//	               8-byte replica id; absent for objects older than births
//	conflicts/<key>\x00<kind>
//	               the state of a losing kind kept aside (kinds.go): the
//	               birth, 8-byte Unix milliseconds it was set aside, the
//	               encoded state
//	log/<seq>      a delta applied since the checkpoint: uvarint key length,
//	               key, then 'b' and the object's 16-byte birth (absent in
//	               entries older than births), then the encoded delta (seq
//	               is 8-byte big-endian)
//
// A write appends to log and commits (fsync) before it is acknowledged. The
// committer checkpoints dirty objects and empties the log from time to time;
// recovery loads the objects and merges the log over them, which is safe to
// repeat because merge is idempotent.
var (
	bucketMeta    = []byte("meta")
	bucketObjects = []byte("objects")
	bucketLog     = []byte("log")
	bucketBirths  = []byte("births")
	bucketAside   = []byte("conflicts")
	keyReplica    = []byte("replica")
	keyClock      = []byte("clock")
	keyClean      = []byte("clean")
	keyMembers    = []byte("members")
	keyAddrs      = []byte("addrs")
)

// disk is the store's durable half. Only the committer goroutine writes
// objects and the log after open; saveMembers writes only meta/members, in
// its own bbolt transaction.
type disk struct {
	db      *bolt.DB
	logged  int // log entries since the last checkpoint
	replica crdt.ReplicaID
	clock   crdt.Timestamp
	members []string          // as recovered
	addrs   map[string]string // as recovered: member name -> address
	unclean bool              // the last run did not close the store (a crash)
	// quarantined lists the records held in quarantine (quarantine.go);
	// fresh, those this open moved there.
	quarantined, fresh []Quarantined
	// sealer, if not nil, seals the values written (atrest.go); stale
	// counts the records recovery found clear or under a retired key, which
	// the first checkpoint seals again.
	sealer Sealer
	stale  int
	// scratch is the committer's buffer for log entries before sealing.
	scratch []byte
}

// openDisk opens or creates the store file in dir and recovers the objects.
// The replica id is chosen when the file is created and kept, even after a
// crash: nothing that was not durable ever left this site (durable.go), so
// the recovered state holds every dot and count of this id that any other
// site has, and none is issued twice.
//
// It also returns the keys of objects changed by the log: they are dirty,
// for the log may only be emptied once they are checkpointed.
//
// With a Sealer, sealed values are opened and clear ones read as they are
// (atrest.go); a sealed value that does not open is quarantined. Without
// one, a sealed value fails the open with ErrNoKeys and changes nothing.
func openDisk(dir string, sealer Sealer) (*disk, map[string]crdt.Object, *kindTable, map[string]struct{}, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("replica: create data dir: %w", err)
	}
	path := filepath.Join(dir, "replica.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("replica: open %s: %w", path, err)
	}
	d := &disk{db: db, sealer: sealer}
	objs := make(map[string]crdt.Object)
	kinds := newKindTable()
	dirty := make(map[string]struct{})
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		objects, err := tx.CreateBucketIfNotExists(bucketObjects)
		if err != nil {
			return err
		}
		log, err := tx.CreateBucketIfNotExists(bucketLog)
		if err != nil {
			return err
		}
		births, err := tx.CreateBucketIfNotExists(bucketBirths)
		if err != nil {
			return err
		}
		asides, err := tx.CreateBucketIfNotExists(bucketAside)
		if err != nil {
			return err
		}
		var bad []badRecord
		if v := meta.Get(keyClock); len(v) == 8 {
			d.clock = crdt.Timestamp(binary.BigEndian.Uint64(v))
		} else if v != nil {
			bad = append(bad, badRecord{bucket: bucketMeta, key: keyClock, err: fmt.Errorf("%d bytes, want 8: %w", len(v), errCorrupt)})
		}
		d.unclean = meta.Get(keyReplica) != nil && meta.Get(keyClean) == nil
		if v := meta.Get(keyReplica); len(v) == 8 && v[0]|v[1]|v[2]|v[3]|v[4]|v[5]|v[6]|v[7] != 0 {
			d.replica = crdt.ReplicaID(binary.BigEndian.Uint64(v))
		} else {
			if v != nil {
				// A new id is safe (as for a lost directory): the old
				// one's dots stay in the objects and are never reissued.
				bad = append(bad, badRecord{bucket: bucketMeta, key: keyReplica, err: fmt.Errorf("%d bytes, want a non-zero 8-byte id: %w", len(v), errCorrupt)})
			}
			d.replica = newReplicaID()
		}
		if err := meta.Delete(keyClean); err != nil {
			return err
		}
		if d.members, err = parseMembers(meta.Get(keyMembers)); err != nil {
			bad = append(bad, badRecord{bucket: bucketMeta, key: keyMembers, err: err})
		}
		if d.addrs, err = parseAddrs(meta.Get(keyAddrs)); err != nil {
			bad = append(bad, badRecord{bucket: bucketMeta, key: keyAddrs, err: err})
		}
		if err := objects.ForEach(func(k, v []byte) error {
			v, stale, err := d.unseal(bucketObjects, k, v, 0)
			if errors.Is(err, ErrNoKeys) {
				return err
			}
			var o crdt.Object
			if err == nil {
				o, err = crdt.Decode(v)
			}
			if err != nil {
				bad = append(bad, badRecord{bucket: bucketObjects, key: k, object: string(k), err: err})
				return nil
			}
			objs[string(k)] = o
			if stale {
				// Written again, sealed, by the first checkpoint.
				dirty[string(k)] = struct{}{}
				d.stale++
			}
			return nil
		}); err != nil {
			return err
		}
		if err := births.ForEach(func(k, v []byte) error {
			b, err := parseStamp(v)
			if err != nil {
				bad = append(bad, badRecord{bucket: bucketBirths, key: k, object: string(k), err: err})
				return nil
			}
			if _, ok := objs[string(k)]; ok {
				kinds.setBirth(string(k), b)
			}
			return nil
		}); err != nil {
			return err
		}
		if err := asides.ForEach(func(k, v []byte) error {
			v, stale, err := d.unseal(bucketAside, k, v, asideClear)
			if errors.Is(err, ErrNoKeys) {
				return err
			}
			var key string
			var a *aside
			if err == nil {
				key, a, err = decodeAside(k, v)
			}
			if err != nil {
				bad = append(bad, badRecord{bucket: bucketAside, key: k, object: key, err: err})
				return nil
			}
			if kinds.aside[key] == nil {
				kinds.aside[key] = make(map[crdt.Kind]*aside)
			}
			kinds.aside[key][a.obj.Kind()] = a
			if stale {
				kinds.dirty[key] = struct{}{}
				d.stale++
			}
			return nil
		}); err != nil {
			return err
		}
		if err := log.ForEach(func(k, v []byte) error {
			v, stale, err := d.unseal(bucketLog, k, v, 0)
			if errors.Is(err, ErrNoKeys) {
				return err
			}
			var key string
			var birth crdt.Stamp
			var delta crdt.Object
			if err == nil {
				key, birth, delta, err = parseLogEntry(v)
			}
			if err != nil {
				bad = append(bad, badRecord{bucket: bucketLog, key: k, object: key, err: err})
				return nil
			}
			// An entry older than births of another kind than its object
			// is damage (that version refused such deltas before logging
			// them): quarantined. A newer one is resolved as a received
			// delta: set aside, or it wins (kinds.go).
			if o, ok := objs[key]; ok && o.Kind() != delta.Kind() && !hasBirth(v) {
				bad = append(bad, badRecord{bucket: bucketLog, key: k, object: key, err: crdt.Merge(o, delta)})
				return nil
			}
			if adm, _, _ := kinds.admit(objs, key, birth, delta, time.Now()); adm == admitMerge {
				if o, ok := objs[key]; ok {
					if err := crdt.Merge(o, delta); err != nil {
						bad = append(bad, badRecord{bucket: bucketLog, key: k, object: key, err: err})
						return nil
					}
				} else {
					objs[key] = delta
				}
			}
			d.logged++
			dirty[key] = struct{}{}
			if stale {
				d.stale++ // the checkpoint that empties the log
			}
			return nil
		}); err != nil {
			return err
		}
		// Keys handed to ForEach are valid only during the transaction.
		for i := range bad {
			bad[i].key = append([]byte(nil), bad[i].key...)
		}
		if d.fresh, err = quarantine(tx, bad, time.Now()); err != nil {
			return fmt.Errorf("quarantine: %w", err)
		}
		if v := meta.Get(keyReplica); len(v) != 8 {
			if err := meta.Put(keyReplica, binary.BigEndian.AppendUint64(nil, uint64(d.replica))); err != nil {
				return err
			}
		}
		d.quarantined = readQuarantine(tx)
		return nil
	})
	if errors.Is(err, ErrNoKeys) {
		db.Close()
		return nil, nil, nil, nil, fmt.Errorf("%w (replica.Config.AtRest; the file %s is left as it was)", ErrNoKeys, path)
	}
	if err != nil {
		db.Close()
		return nil, nil, nil, nil, fmt.Errorf("replica: recover %s: %w", path, err)
	}
	return d, objs, kinds, dirty, nil
}

// newReplicaID returns a random non-zero replica id.
func newReplicaID() crdt.ReplicaID {
	var b [8]byte
	for {
		rand.Read(b[:])
		if id := crdt.ReplicaID(binary.BigEndian.Uint64(b[:])); id != 0 {
			return id
		}
	}
}

var errLogEntry = errors.New("malformed log entry")

// logBirth marks the birth in a log entry; an entry older than births
// starts with the delta's encoding, whose first byte is crdt.FormatVersion.
const logBirth = 'b'

func appendLogEntry(b []byte, key string, birth crdt.Stamp, delta crdt.Object) []byte {
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = appendStamp(append(b, logBirth), birth)
	b, _ = delta.AppendBinary(b)
	return b
}

// logEntryKey splits a log entry into its object's name and the encoded
// delta.
func logEntryKey(v []byte) (string, []byte, error) {
	n, w := binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)-w) {
		return "", nil, fmt.Errorf("%w: bad object name length", errLogEntry)
	}
	key := string(v[w : w+int(n)])
	if err := validKey(key); err != nil {
		return "", nil, fmt.Errorf("%w: %w", errLogEntry, err)
	}
	return key, v[w+int(n):], nil
}

// hasBirth reports whether log entry v, which parses, holds a birth.
func hasBirth(v []byte) bool {
	_, enc, _ := logEntryKey(v)
	return len(enc) > 0 && enc[0] == logBirth
}

// parseLogEntry decodes a log entry. It never panics; a refused entry
// wraps errLogEntry or one of package crdt's decoding errors.
func parseLogEntry(v []byte) (string, crdt.Stamp, crdt.Object, error) {
	key, enc, err := logEntryKey(v)
	if err != nil {
		return "", crdt.Stamp{}, nil, err
	}
	var birth crdt.Stamp
	if len(enc) > 0 && enc[0] == logBirth {
		if len(enc) < 17 {
			return key, birth, nil, fmt.Errorf("%w: truncated birth", errLogEntry)
		}
		birth, _ = parseStamp(enc[1:17])
		enc = enc[17:]
	}
	o, err := crdt.Decode(enc)
	if err != nil {
		return key, birth, nil, err
	}
	return key, birth, o, nil
}

// record is one delta to make durable.
type record struct {
	key   string
	delta crdt.Object
	birth crdt.Stamp     // the object's birth (kinds.go)
	time  crdt.Timestamp // when a local write was made, for the lag metric; zero for remote ones
	size  int            // received ones: the delta's encoded size on the wire, if known
}

// append commits records and the clock in one transaction; bbolt fsyncs
// before Update returns.
func (d *disk) append(recs []record, clock crdt.Timestamp) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		log := tx.Bucket(bucketLog)
		for _, r := range recs {
			seq, err := log.NextSequence()
			if err != nil {
				return err
			}
			k := logKey(seq)
			var v []byte
			if d.sealer == nil {
				// A fresh buffer per entry: bbolt keeps the slice until commit.
				v = appendLogEntry(nil, r.key, r.birth, r.delta)
			} else {
				d.scratch = appendLogEntry(d.scratch[:0], r.key, r.birth, r.delta)
				if v, err = d.seal(bucketLog, k, nil, d.scratch); err != nil {
					return err
				}
			}
			if err := log.Put(k, v); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyClock, binary.BigEndian.AppendUint64(nil, uint64(clock)))
	})
	if err != nil {
		return fmt.Errorf("replica: commit %d deltas: %w", len(recs), err)
	}
	d.logged += len(recs)
	return nil
}

// checkpointData is what a checkpoint writes: the encoded states and the
// births of the objects changed, and every aside state of the names whose
// aside states changed (an empty map: none left).
type checkpointData struct {
	states map[string][]byte
	births map[string]crdt.Stamp
	asides map[string]map[crdt.Kind][]byte
}

// checkpoint stores the encoded states, births and aside states and
// empties the log. Every delta in the log must already be part of them.
func (d *disk) checkpoint(cp checkpointData) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		objects, births, asides := tx.Bucket(bucketObjects), tx.Bucket(bucketBirths), tx.Bucket(bucketAside)
		for k, v := range cp.states {
			v, err := d.seal(bucketObjects, []byte(k), nil, v)
			if err != nil {
				return err
			}
			if err := objects.Put([]byte(k), v); err != nil {
				return err
			}
		}
		for k, b := range cp.births {
			var err error
			if b.IsZero() {
				err = births.Delete([]byte(k))
			} else {
				err = births.Put([]byte(k), appendStamp(nil, b))
			}
			if err != nil {
				return err
			}
		}
		for k, m := range cp.asides {
			for kind := crdt.KindGCounter; kind <= crdt.KindORMap; kind++ {
				var err error
				if v, ok := m[kind]; ok {
					ak := asideKey(k, kind)
					if v, err = d.seal(bucketAside, ak, v[:asideClear], v[asideClear:]); err == nil {
						err = asides.Put(ak, v)
					}
				} else {
					err = asides.Delete(asideKey(k, kind))
				}
				if err != nil {
					return err
				}
			}
		}
		if err := tx.DeleteBucket(bucketLog); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketLog)
		return err
	})
	if err != nil {
		return fmt.Errorf("replica: checkpoint: %w", err)
	}
	d.logged = 0
	return nil
}

// saveMembers durably replaces the sites garbage collection waits for.
func (d *disk) saveMembers(names []string) error {
	b := appendMembers(nil, names)
	if err := d.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyMembers, b) }); err != nil {
		return fmt.Errorf("replica: save members: %w", err)
	}
	return nil
}

// saveAddrs durably replaces the members' addresses.
func (d *disk) saveAddrs(addrs map[string]string) error {
	names := slices.Sorted(maps.Keys(addrs))
	b := binary.AppendUvarint(nil, uint64(len(names)))
	for _, n := range names {
		b = appendStr(appendStr(b, n), addrs[n])
	}
	if err := d.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyAddrs, b) }); err != nil {
		return fmt.Errorf("replica: save member addresses: %w", err)
	}
	return nil
}

func parseAddrs(b []byte) (map[string]string, error) {
	addrs := make(map[string]string)
	if b == nil {
		return addrs, nil
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return addrs, fmt.Errorf("bad count at byte 0: %w", errCorrupt)
	}
	b = b[k:]
	str := func() (string, bool) {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(l)])
		b = b[k+int(l):]
		return s, true
	}
	for i := range n {
		name, ok1 := str()
		addr, ok2 := str()
		if !ok1 || !ok2 {
			return make(map[string]string), fmt.Errorf("member %d: bad length: %w", i, errCorrupt)
		}
		addrs[name] = addr
	}
	if len(b) != 0 {
		return make(map[string]string), fmt.Errorf("%d trailing bytes: %w", len(b), errCorrupt)
	}
	return addrs, nil
}

func appendMembers(b []byte, names []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, n := range names {
		b = binary.AppendUvarint(b, uint64(len(n)))
		b = append(b, n...)
	}
	return b
}

func parseMembers(b []byte) ([]string, error) {
	if b == nil {
		return nil, nil
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("bad count at byte 0: %w", errCorrupt)
	}
	b = b[k:]
	names := make([]string, 0, n)
	for i := range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("name %d: bad length: %w", i, errCorrupt)
		}
		names = append(names, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes: %w", len(b), errCorrupt)
	}
	return names, nil
}

// errCorrupt marks a meta value that cannot be parsed.
var errCorrupt = errors.New("corrupt value")

// close marks the store as closed cleanly (the next open reports whether
// it recovers from a crash) and closes the file.
func (d *disk) close() error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyClean, []byte{1})
	})
	return errors.Join(err, d.db.Close())
}
