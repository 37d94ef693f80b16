package replica_test

import (
	"bufio"
	"context"
	"fmt"
	"github.com/duohuo/duohuo/internal/testexec"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/crdt"
	"github.com/duohuo/duohuo/replica"
)

const crashChildEnv = "DUOHUO_REPLICA_CRASH_CHILD_DIR"

// crashChild runs in a subprocess: four writers put keys as fast as the
// store acknowledges them and print "ack <key>" after each acknowledgment,
// until the parent kills the process (or 60s pass).
func crashChild(dir string) int {
	s, err := replica.Open(context.Background(), replica.Config{Name: "crash", Dir: dir, CheckpointEvery: 200})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var mu sync.Mutex
	deadline := time.Now().Add(60 * time.Second)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				key := fmt.Sprintf("%d-%d-%d", os.Getpid(), w, i)
				err := s.Update(context.Background(), "kv", func(tx *replica.Txn) error { tx.Put(key, []byte(key)); return nil })
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %s\n", key)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return 0
}

// TestNoAcknowledgedWriteLostOnKill runs writers in a child process, kills
// it with SIGKILL after some acknowledgments, and checks on restart that
// every acknowledged write is there; three times over the same directory.
func TestNoAcknowledgedWriteLostOnKill(t *testing.T) {
	dir := t.TempDir()
	var acked []string
	ids := map[crdt.ReplicaID]bool{}
	for round := range 3 {
		cmd := testexec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for n < 300+round*100 && sc.Scan() {
			if k, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
				acked = append(acked, k)
				n++
			}
		}
		cmd.Process.Kill() // SIGKILL: no Close, no checkpoint
		for sc.Scan() {    // acks printed before the kill landed
			if k, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
				acked = append(acked, k)
			}
		}
		cmd.Wait()
		if n < 300+round*100 {
			t.Fatalf("round %d: child acknowledged only %d writes", round, n)
		}

		s := openAlone(t, dir)
		ids[s.Replica()] = true
		m := getMap(t, s, "kv")
		for _, k := range acked {
			if v, ok := m.Get(k); !ok || string(v) != k {
				t.Errorf("round %d: acknowledged write %s missing after kill -9 and restart", round, k)
			}
		}
		s.Close()
	}
	if len(ids) != 3 {
		t.Errorf("replica ids over 3 crashes: %d distinct, want 3 (a crashed store restarts as a new incarnation)", len(ids))
	}
	t.Logf("%d acknowledged writes over 3 kills, all present", len(acked))
}
