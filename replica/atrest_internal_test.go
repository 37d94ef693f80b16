package replica

import (
	"bytes"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/duohuo/duohuo/crdt"
	"github.com/duohuo/duohuo/gm"
)

// The state of a kind conflict is sealed after its clear birth and time,
// and reads back; a clear one, as an older version wrote it, reads too and
// is marked to be sealed again.
func TestAtRestAsideStates(t *testing.T) {
	ring, err := gm.ParseKeyRing("1:000102030405060708090a0b0c0d0e0f")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var set crdt.ORSet
	set.Add(7, "secret-member")
	birth := crdt.Stamp{Time: crdt.MakeTimestamp(1700000000000, 0), Replica: 9}
	aside := encodeAside(&aside{birth: birth, obj: &set, since: time.UnixMilli(1700000000000)})
	var counter crdt.GCounter
	counter.Add(7, 3)
	state, _ := counter.AppendBinary(nil)

	d, _, _, _, err := openDisk(dir, ring)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.checkpoint(checkpointData{
		states: map[string][]byte{"x": state},
		births: map[string]crdt.Stamp{"x": birth},
		asides: map[string]map[crdt.Kind][]byte{"x": {crdt.KindORSet: aside}},
	}); err != nil {
		t.Fatal(err)
	}
	d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketAside).Get(asideKey("x", crdt.KindORSet))
		if !bytes.Equal(v[:asideClear], aside[:asideClear]) || v[asideClear] != sealMark || bytes.Contains(v, []byte("secret-member")) {
			t.Errorf("the stored aside state %x: want its birth and time clear, then the seal mark and no clear member", v)
		}
		return nil
	})
	d.close()

	d, objs, kinds, dirty, err := openDisk(dir, ring)
	if err != nil {
		t.Fatal(err)
	}
	a := kinds.aside["x"][crdt.KindORSet]
	if a == nil || a.birth != birth || !a.obj.(*crdt.ORSet).Contains("secret-member") || objs["x"] == nil {
		t.Fatalf("after reopening: aside %+v, object %v", a, objs["x"])
	}
	if d.stale != 0 || len(dirty) != 0 || len(kinds.dirty) != 0 {
		t.Fatalf("records sealed with the active key marked stale: %d, dirty %v, %v", d.stale, dirty, kinds.dirty)
	}
	// The same state written clear, as without keys.
	d.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketAside).Put(asideKey("x", crdt.KindORSet), aside) })
	d.close()
	d, _, kinds, _, err = openDisk(dir, ring)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	if kinds.aside["x"][crdt.KindORSet] == nil || d.stale != 1 {
		t.Fatalf("a clear aside state with keys on: %v, stale %d; want it loaded and one stale record", kinds.aside["x"], d.stale)
	}
	if _, ok := kinds.dirty["x"]; !ok {
		t.Fatal("the clear aside state is not marked to be written again")
	}
}
