package audit

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/duohuo/duohuo/gm"
)

// MaxLineLen bounds one record line; longer lines are malformed.
const MaxLineLen = 1 << 20

// ChainError says where and how a chain breaks. It wraps [ErrTampered],
// [ErrMissing], [ErrMalformed] or [ErrTruncated].
type ChainError struct {
	Line   int    // 1-based line in the file; 0 for the end of the file
	Offset int64  // byte offset of the start of that line (the file size for the end)
	Record uint64 // the record number (Seq) expected there
	Err    error  // the kind: ErrTampered, ErrMissing, ErrMalformed, ErrTruncated, ErrKeyMissing
	Detail string
}

// Error returns "record N (line L): kind: detail".
func (e *ChainError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("record %d: %s: %s", e.Record, kindName(e.Err), e.Detail)
	}
	return fmt.Sprintf("record %d (line %d): %s: %s", e.Record, e.Line, kindName(e.Err), e.Detail)
}

// Unwrap returns the kind of break.
func (e *ChainError) Unwrap() error { return e.Err }

func kindName(err error) string {
	switch err {
	case ErrTampered:
		return "tampered"
	case ErrMissing:
		return "missing or reordered"
	case ErrMalformed:
		return "malformed"
	case ErrTruncated:
		return "truncated"
	case ErrTorn:
		return "torn"
	case ErrKeyMissing:
		return "key missing"
	}
	return "broken"
}

// Reader reads the records of an audit log one line at a time, checking
// each line's own hash but not the links between lines ([Verify] does).
// It is not safe for concurrent use.
type Reader struct {
	br    *bufio.Reader
	key   []byte
	line  int
	start int64 // offset of the current line
	next  int64 // offset after the bytes read so far
}

// NewReader returns a Reader of r; key is the HMAC key the log was written
// with, or nil.
func NewReader(r io.Reader, key []byte) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10), key: key}
}

// Line returns the 1-based line number of the record last returned.
func (r *Reader) Line() int { return r.line }

// Offset returns the byte offset of the start of the line last read.
func (r *Reader) Offset() int64 { return r.start }

// Next returns the next record and its hash. It returns io.EOF at the end,
// and an error wrapping [ErrMalformed] for a line that is not a well-formed
// record (the Reader then stops), or [ErrTampered] for a record whose hash
// does not match its bytes (the Reader may continue).
func (r *Reader) Next() (Record, string, error) {
	line, err := r.readLine()
	if err != nil {
		return Record{}, "", err
	}
	r.line++
	if len(line) == 0 {
		return Record{}, "", fmt.Errorf("empty line: %w", ErrMalformed)
	}
	body, hash, err := splitLine(line)
	if err != nil {
		return Record{}, "", err
	}
	var rec Record
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&rec); err != nil {
		return Record{}, "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Record{}, "", fmt.Errorf("%w: more than one JSON value", ErrMalformed)
	}
	if rec.Seq == 0 {
		return Record{}, "", fmt.Errorf("%w: no seq", ErrMalformed)
	}
	if err := checkHash(rec.Prev); err != nil {
		return Record{}, "", fmt.Errorf("%w: prev: %v", ErrMalformed, err)
	}
	want := chainHash(body, r.key)
	got, _ := hex.DecodeString(hash)
	if subtle.ConstantTimeCompare(got, want[:]) != 1 {
		return rec, hash, fmt.Errorf("%w: hash does not match the record's contents", ErrTampered)
	}
	return rec, hash, nil
}

// readLine returns the next line without its newline. A last line without
// a newline is torn (a write cut short) and reported as malformed.
func (r *Reader) readLine() ([]byte, error) {
	var buf []byte
	r.start = r.next
	for {
		chunk, err := r.br.ReadSlice('\n')
		buf = append(buf, chunk...)
		r.next += int64(len(chunk))
		if len(buf) > MaxLineLen {
			r.line++
			return nil, fmt.Errorf("%w: line longer than %d bytes", ErrMalformed, MaxLineLen)
		}
		switch {
		case err == nil:
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(buf) == 0 {
				return nil, io.EOF
			}
			r.line++
			return nil, fmt.Errorf("%w: no newline at the end (a write cut short)", ErrTorn)
		default:
			return nil, err
		}
	}
}

// splitLine separates a line into the hashed body and the hex hash.
func splitLine(line []byte) (body []byte, hash string, err error) {
	if len(line) < hashSuffixLen+2 || !bytes.HasSuffix(line, []byte(`"}`)) ||
		string(line[len(line)-hashSuffixLen:len(line)-hashSuffixLen+len(hashField)]) != hashField {
		return nil, "", fmt.Errorf("%w: no trailing \"hash\" field", ErrMalformed)
	}
	hash = string(line[len(line)-hashSuffixLen+len(hashField) : len(line)-2])
	if err := checkHash(hash); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	body = make([]byte, 0, len(line)-hashSuffixLen+1)
	body = append(body, line[:len(line)-hashSuffixLen]...)
	body = append(body, '}')
	return body, hash, nil
}

// VerifyOptions says what a chain must match. The zero value verifies a
// chain that starts at record 1 after [ZeroHash], with no anchor.
type VerifyOptions struct {
	// Key is the HMAC key of a log written with [Options].Key.
	Key []byte
	// Start, if set, is the head of the chain this file continues (the last
	// head of the previous file after a rotation).
	Start Head
	// AtRest, if set, opens every sealed record (see [Unseal]) after its
	// hash and link are checked: contents that do not open are reported as
	// [ErrTampered], a key the ring lacks as [ErrKeyMissing]. Nil: sealed
	// records are checked as they are, which needs no key.
	AtRest *gm.KeyRing
	// Anchor, if set, is a head recorded outside the file (see
	// [Options].HeadFile). The chain must contain record Anchor.Seq with
	// hash Anchor.Hash; a chain that ends before it is truncated.
	Anchor Head
}

// Report is the result of a successful [Verify].
type Report struct {
	Records uint64 // records read
	Sealed  uint64 // of them, sealed at rest (opened, with [VerifyOptions].AtRest)
	Head    Head   // the last record's seq and hash (opts.Start if none)
}

// Verify reads a whole log from r and checks every record's hash and every
// link: each record's prev must be the hash of the one before and its seq
// one more. The first break is returned as a *[ChainError] with the record
// number and line, so an edited record, a removed or inserted one, a
// reordering, a cut or joined line, and (given an anchor) a cut-off tail
// are all reported.
func Verify(r io.Reader, opts VerifyOptions) (Report, error) {
	head := opts.Start
	if head.Hash == "" {
		head.Hash = ZeroHash
	}
	rep := Report{Head: head}
	rd := NewReader(r, opts.Key)
	anchorSeen := opts.Anchor.Seq == 0
	for {
		rec, hash, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		expect := head.Seq + 1
		switch {
		case errors.Is(err, ErrTampered):
			return rep, &ChainError{Line: rd.Line(), Offset: rd.Offset(), Record: expect, Err: ErrTampered, Detail: "contents edited: hash does not match"}
		case errors.Is(err, ErrTorn):
			return rep, &ChainError{Line: rd.Line(), Offset: rd.Offset(), Record: expect, Err: ErrTorn, Detail: err.Error()}
		case errors.Is(err, ErrMalformed):
			return rep, &ChainError{Line: rd.Line(), Offset: rd.Offset(), Record: expect, Err: ErrMalformed, Detail: err.Error()}
		case err != nil:
			return rep, fmt.Errorf("audit: read log: %w", err)
		}
		switch {
		case rec.Seq != expect:
			return rep, &ChainError{Line: rd.Line(), Offset: rd.Offset(), Record: expect, Err: ErrMissing,
				Detail: fmt.Sprintf("found record %d where %d belongs", rec.Seq, expect)}
		case rec.Prev != head.Hash:
			return rep, &ChainError{Line: rd.Line(), Offset: rd.Offset(), Record: expect, Err: ErrTampered,
				Detail: "prev does not match the previous record's hash (a record before it was edited or replaced)"}
		}
		if rec.Sealed != nil && opts.AtRest != nil {
			if err := Unseal(&rec, opts.AtRest); err != nil {
				kind := ErrTampered
				for _, k := range []error{ErrKeyMissing, ErrMalformed} {
					if errors.Is(err, k) {
						kind = k
					}
				}
				return rep, &ChainError{Line: rd.Line(), Offset: rd.Offset(), Record: expect, Err: kind, Detail: err.Error()}
			}
			rep.Sealed++
		} else if rec.Sealed != nil {
			rep.Sealed++
		}
		head = Head{Seq: rec.Seq, Hash: hash}
		rep.Records++
		rep.Head = head
		if rec.Seq == opts.Anchor.Seq {
			if hash != opts.Anchor.Hash {
				return rep, &ChainError{Line: rd.Line(), Offset: rd.Offset(), Record: rec.Seq, Err: ErrTampered,
					Detail: "hash differs from the anchored head (the chain was rewritten)"}
			}
			anchorSeen = true
		}
	}
	if !anchorSeen {
		return rep, &ChainError{Offset: rd.next, Record: head.Seq + 1, Err: ErrTruncated,
			Detail: fmt.Sprintf("chain ends at record %d, anchored head is record %d", head.Seq, opts.Anchor.Seq)}
	}
	return rep, nil
}
