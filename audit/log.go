package audit

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duohuo/duohuo/gm"
)

// Options configures a [Log]. The zero Options is valid.
type Options struct {
	// QueueLen bounds the records waiting to be written; when it is full,
	// [Log.Append] drops the record and counts it rather than wait.
	// 0 means 4096.
	QueueLen int
	// Key, if set, makes each record's hash an HMAC-SM3 under Key instead
	// of a plain SM3, so that someone who can edit the file but does not
	// hold the key cannot forge a consistent chain. Verify needs the same
	// key.
	Key []byte
	// HeadFile, if set, is rewritten (atomically, by rename) with the
	// chain's [Head] as JSON after every batch is written, for anchoring:
	// copy it off the machine, and [Verify] with it detects records lost
	// from the end of the log.
	HeadFile string
	// AtRest, if set, seals each record's contents (the fields from Method
	// to Revision) with SM4-GCM under the ring's active key, and writes the
	// key id beside them (see [Record].Sealed). The chain covers the sealed
	// form: [Verify] checks the file without the keys, and with them
	// ([VerifyOptions].AtRest) also opens every record.
	AtRest *gm.KeyRing
	// NoSync skips the fsync after each batch. By default a batch is synced
	// before the next is taken, so a crash loses at most the queue.
	NoSync bool
}

// Stats counts what a Log did.
type Stats struct {
	Written uint64 // records written to the file
	Dropped uint64 // records refused because the queue was full or the Log closed
	Errors  uint64 // write or sync errors (the Log stops writing after one)
}

// Log appends records to a JSON-lines file as an SM3 hash chain: every line
// carries the hash of the previous one in "prev" and its own in "hash", a
// hash over the line's exact bytes. Editing, removing, inserting or
// reordering lines breaks the chain, which [Verify] reports with the record
// number.
//
// Append never blocks: records go through a bounded queue to one writer
// goroutine, which batches them. All methods are safe for concurrent use.
type Log struct {
	f    *os.File
	opts Options

	queue chan Record
	stop  chan struct{} // closed by Close: the writer drains and exits
	done  chan struct{} // closed when the writer has exited

	closed                   atomic.Bool
	written, dropped, errors atomic.Uint64

	headMu sync.Mutex // guards head
	head   Head

	closeOnce sync.Once
	closeErr  error
}

// Open opens (or creates) the log file at path for appending. An existing
// file is verified first, and its chain continued; if it does not verify
// (see [Verify]), Open returns that error and the caller decides what to do
// (typically: keep the file as evidence, start a new one). The one break
// Open mends is a torn last line ([ErrTorn], left by a crash during a
// write): it cuts the partial line off and appends a record with Method
// [RepairMethod] that says so.
func Open(path string, opts Options) (*Log, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open log: %w", err)
	}
	rep, err := Verify(f, VerifyOptions{Key: opts.Key})
	var repair *Record
	if ce, ok := errors.AsType[*ChainError](err); ok && errors.Is(err, ErrTorn) {
		// A crash cut the last write short. Drop the partial line, and say
		// so in the log itself, rather than refuse to log at all.
		size, _ := f.Seek(0, io.SeekEnd)
		if terr := f.Truncate(ce.Offset); terr != nil {
			f.Close()
			return nil, fmt.Errorf("audit: remove torn last line of %s: %w", path, terr)
		}
		repair = &Record{Time: time.Now(), Method: RepairMethod, Outcome: "OK",
			Error: fmt.Sprintf("removed a torn last line (record %d, line %d): %d bytes at offset %d", ce.Record, ce.Line, size-ce.Offset, ce.Offset)}
		f.Seek(0, io.SeekStart)
		rep, err = Verify(f, VerifyOptions{Key: opts.Key})
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: existing log %s: %w", path, err)
	}
	if opts.QueueLen <= 0 {
		opts.QueueLen = 4096
	}
	l := &Log{
		f:     f,
		opts:  opts,
		queue: make(chan Record, opts.QueueLen),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		head:  rep.Head,
	}
	if repair != nil {
		l.queue <- *repair
	}
	go l.run()
	return l, nil
}

// RepairMethod is the Method of the record that [Open] appends after it
// removed a torn last line; its Error says what was removed.
const RepairMethod = "duohuo.audit/RemoveTornLine"

// Append queues r to be written and reports whether it was queued. It never
// blocks: when the queue is full or the Log is closed, r is dropped and
// counted in [Stats].Dropped. Seq and Prev of r are ignored (Log sets them).
func (l *Log) Append(r Record) bool {
	if l.closed.Load() {
		l.dropped.Add(1)
		return false
	}
	select {
	case l.queue <- r:
		return true
	default:
		l.dropped.Add(1)
		return false
	}
}

// Head returns the chain's head after the last batch written.
func (l *Log) Head() Head {
	l.headMu.Lock()
	defer l.headMu.Unlock()
	return l.head
}

// Stats returns the Log's counters.
func (l *Log) Stats() Stats {
	return Stats{Written: l.written.Load(), Dropped: l.dropped.Load(), Errors: l.errors.Load()}
}

// Close stops accepting records, writes those already queued, syncs and
// closes the file, and waits for the writer goroutine. Records appended
// concurrently with Close may be dropped (and counted). It returns the
// first write error, if any; later calls return the same.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		close(l.stop)
		<-l.done
		if err := l.f.Close(); err != nil && l.closeErr == nil {
			l.closeErr = fmt.Errorf("audit: close log: %w", err)
		}
	})
	return l.closeErr
}

// maxBatch bounds the records written between two syncs.
const maxBatch = 512

// testHookBatch, if set by a test, runs in the writer goroutine before each
// batch is taken from the queue, so a test can hold the writer still.
var testHookBatch func()

func (l *Log) run() {
	defer close(l.done)
	w := bufio.NewWriterSize(l.f, 64<<10)
	head := l.Head()
	batch := make([]Record, 0, maxBatch)
	failed := false
	for {
		batch = batch[:0]
		if testHookBatch != nil {
			testHookBatch()
		}
		select {
		case r := <-l.queue:
			batch = append(batch, r)
		case <-l.stop:
			// Drain what was queued before Close.
			for {
				select {
				case r := <-l.queue:
					batch = append(batch, r)
					if len(batch) < maxBatch {
						continue
					}
				default:
				}
				if len(batch) == 0 {
					return
				}
				if !failed {
					head, failed = l.writeBatch(w, head, batch)
				} else {
					l.dropped.Add(uint64(len(batch)))
				}
				batch = batch[:0]
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-l.queue:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if failed {
			l.dropped.Add(uint64(len(batch)))
			continue
		}
		head, failed = l.writeBatch(w, head, batch)
	}
}

// writeBatch chains, writes and syncs a batch; it returns the new head and
// whether writing failed (after which the Log writes nothing more, so that
// the file never holds a chain with a hole).
func (l *Log) writeBatch(w *bufio.Writer, head Head, batch []Record) (Head, bool) {
	for i := range batch {
		line, h, err := encodeRecord(&batch[i], head, l.opts.Key, l.opts.AtRest)
		if err != nil {
			return l.fail(head, err, len(batch)-i)
		}
		if _, err := w.Write(line); err != nil {
			return l.fail(head, err, len(batch)-i)
		}
		head = h
	}
	if err := w.Flush(); err != nil {
		return l.fail(head, err, 0)
	}
	if !l.opts.NoSync {
		if err := l.f.Sync(); err != nil {
			return l.fail(head, err, 0)
		}
	}
	l.written.Add(uint64(len(batch)))
	l.headMu.Lock()
	l.head = head
	l.headMu.Unlock()
	if l.opts.HeadFile != "" {
		if err := writeHeadFile(l.opts.HeadFile, head); err != nil {
			l.errors.Add(1)
			if l.closeErr == nil {
				l.closeErr = err
			}
		}
	}
	return head, false
}

func (l *Log) fail(head Head, err error, lost int) (Head, bool) {
	l.errors.Add(1)
	l.dropped.Add(uint64(lost))
	if l.closeErr == nil {
		l.closeErr = fmt.Errorf("audit: write log: %w", err)
	}
	return head, true
}

// encodeRecord sets r's Seq and Prev from head and returns the line to
// write (with its newline) and the new head. The hash covers the line's
// bytes up to the hash field, with the object closed: body = {…"prev":"…"}
// and line = {…"prev":"…","hash":"<hex of H(body)>"}. With ring, the body
// is the sealed form of r.
func encodeRecord(r *Record, head Head, key []byte, ring *gm.KeyRing) ([]byte, Head, error) {
	r.Seq = head.Seq + 1
	r.Prev = head.Hash
	if r.Prev == "" {
		r.Prev = ZeroHash
	}
	r.KeyID, r.Sealed = 0, nil
	var body []byte
	var err error
	if ring != nil {
		body, err = sealBody(r, ring)
	} else {
		body, err = json.Marshal(r)
	}
	if err != nil {
		return nil, head, fmt.Errorf("encode record %d: %w", r.Seq, err)
	}
	sum := chainHash(body, key)
	line := make([]byte, 0, len(body)+hashSuffixLen+1)
	line = append(line, body[:len(body)-1]...)
	line = append(line, hashField...)
	line = hex.AppendEncode(line, sum[:])
	line = append(line, "\"}\n"...)
	return line, Head{Seq: r.Seq, Hash: hex.EncodeToString(sum[:])}, nil
}

const (
	hashField     = `,"hash":"`
	hashSuffixLen = len(hashField) + 2*gm.SM3Size + len(`"}`)
)

// chainHash is SM3(body), or HMAC-SM3(key, body) with a key.
func chainHash(body, key []byte) [gm.SM3Size]byte {
	if key != nil {
		return gm.HMACSM3(key, body)
	}
	return gm.SM3(body)
}

func writeHeadFile(path string, h Head) error {
	b, _ := json.Marshal(h)
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("audit: head file: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("audit: head file: %w", err)
	}
	return nil
}

// ReadHeadFile reads a head written by a Log with [Options].HeadFile.
func ReadHeadFile(path string) (Head, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Head{}, fmt.Errorf("audit: read head: %w", err)
	}
	var h Head
	if err := json.Unmarshal(b, &h); err != nil {
		return Head{}, fmt.Errorf("audit: head file %s: %w", path, err)
	}
	if err := checkHash(h.Hash); err != nil || h.Seq == 0 {
		return Head{}, fmt.Errorf("audit: head file %s: want {\"seq\": N>0, \"hash\": 64 hex digits}: %w", path, ErrMalformed)
	}
	return h, nil
}

func checkHash(s string) error {
	if len(s) != 2*gm.SM3Size {
		return errors.New("hash is not 64 hex digits")
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return errors.New("hash is not 64 lower-case hex digits")
		}
	}
	return nil
}
