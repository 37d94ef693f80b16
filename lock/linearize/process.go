package linearize

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/duohuo/duohuo/lock"
	"github.com/duohuo/duohuo/lock/etcdlock"
)

// ErrNeedsClientCommand is returned by Run for a fault that stops client
// processes when Config.ClientCommand is nil, or on a system without
// SIGSTOP.
var ErrNeedsClientCommand = errors.New("linearize: fault needs client processes (Config.ClientCommand, SIGSTOP)")

// The protocol between Run and a client process (ServeClient) is one JSON
// object per line: first Run's processInit and the child's answer (seq 0),
// then one processRequest and one processReply at a time. Run records the
// operations' times on its own clock, from before it writes a request to
// after it reads the answer: an interval that contains the operation's.

type processInit struct {
	Subject   string        `json:"subject"`
	Endpoints []string      `json:"endpoints"`
	Key       string        `json:"key"`
	ID        int           `json:"id"`
	TTL       time.Duration `json:"ttl"`
}

type processRequest struct {
	Seq     uint64        `json:"seq"`
	Op      string        `json:"op"` // acquire, read, write, release, reset
	Timeout time.Duration `json:"timeout,omitempty"`
	Token   lock.Token    `json:"token,omitempty"`
	Value   int64         `json:"value,omitempty"`
}

type processReply struct {
	Seq   uint64     `json:"seq"`
	Token lock.Token `json:"token,omitempty"`
	Value int64      `json:"value,omitempty"`
	Err   string     `json:"err,omitempty"`
	// Kind names the sentinel Err wraps, so that Run can tell a certain
	// failure or a refusal from an unknown outcome across the pipe.
	Kind string `json:"kind,omitempty"`
}

// errKinds are the sentinels that travel with an error, most specific first.
var errKinds = []struct {
	name string
	err  error
}{
	{"not-acquired", ErrNotAcquired},
	{"stale-token", lock.ErrStaleToken},
	{"lost", lock.ErrLost},
	{"not-holder", lock.ErrNotHolder},
}

func replyErr(rep *processReply, err error) {
	if err == nil {
		return
	}
	rep.Err = err.Error()
	for _, k := range errKinds {
		if errors.Is(err, k.err) {
			rep.Kind = k.name
			return
		}
	}
}

func (rep processReply) error() error {
	if rep.Err == "" {
		return nil
	}
	for _, k := range errKinds {
		if rep.Kind == k.name {
			return fmt.Errorf("client process: %w: %s", k.err, rep.Err)
		}
	}
	return fmt.Errorf("client process: %s", rep.Err)
}

// ServeClient is the child's side of Config.ClientCommand: it runs one
// client of a parent's Run in this process, reading requests from r and
// answering on w, until r ends (the parent closed it or went away) or ctx
// ends; then it closes the client, releasing what it holds. The parent
// names the subject, one of Subjects; the etcd client is made from
// etcdlock.ClientConfig. A program that calls it must write nothing else to
// w.
func ServeClient(ctx context.Context, r io.Reader, w io.Writer) error {
	dec := json.NewDecoder(bufio.NewReader(r))
	enc := json.NewEncoder(w)
	var in processInit
	if err := dec.Decode(&in); err != nil {
		return fmt.Errorf("linearize: client process: read start: %w", err)
	}
	cl, cli, err := startServedClient(in)
	if err != nil {
		enc.Encode(processReply{Err: err.Error()})
		return fmt.Errorf("linearize: client process: %w", err)
	}
	defer cli.Close()
	defer cl.Close()
	if err := enc.Encode(processReply{}); err != nil {
		return fmt.Errorf("linearize: client process: %w", err)
	}
	for {
		var req processRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("linearize: client process: read request: %w", err)
		}
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if req.Timeout > 0 {
			rctx, cancel = context.WithTimeout(ctx, req.Timeout)
		}
		rep := processReply{Seq: req.Seq}
		var err error
		switch req.Op {
		case "acquire":
			rep.Token, err = cl.Acquire(rctx)
		case "read":
			rep.Value, err = cl.Read(rctx, req.Token)
		case "write":
			err = cl.Write(rctx, req.Token, req.Value)
		case "release":
			err = cl.Release(rctx)
		case "reset":
			err = cl.Reset(rctx)
		default:
			err = fmt.Errorf("unknown operation %q", req.Op)
		}
		cancel()
		replyErr(&rep, err)
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("linearize: client process: %w", err)
		}
	}
}

func startServedClient(in processInit) (Client, *clientv3.Client, error) {
	s, ok := Subjects[in.Subject]
	if !ok {
		return nil, nil, fmt.Errorf("unknown subject %q", in.Subject)
	}
	cli, err := clientv3.New(etcdlock.ClientConfig(in.Endpoints))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %v: %w", in.Endpoints, err)
	}
	return s.NewClient(cli, in.Key, in.ID, in.TTL), cli, nil
}

// processClient is the parent's side: a Client whose operations run in a
// child process, which Pause stops with SIGSTOP. Like every Client it is
// called from one goroutine; the reader goroutine it owns ends when the
// child's output does, and Close waits for it.
type processClient struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	enc     *json.Encoder
	replies chan processReply
	quit    chan struct{} // closed by Close: the reader drops answers
	readerr chan error    // the reader's end: nil at EOF
	stderr  *tailBuffer
	seq     uint64
	broken  error // set once the child is gone or out of step
}

// answerGrace is how long past an operation's own timeout the parent waits
// for the child's answer: the child applies the timeout itself, and its
// answer says what happened.
const answerGrace = 5 * time.Second

// startProcessClient starts cmd as one client and waits (bounded by ctx
// and 30 s) until it is connected.
func startProcessClient(ctx context.Context, cmd *exec.Cmd, in processInit) (*processClient, error) {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	tail := &tailBuffer{max: 4 << 10}
	cmd.Stderr = tail
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &processClient{cmd: cmd, stdin: stdin, enc: json.NewEncoder(stdin), stderr: tail,
		replies: make(chan processReply), quit: make(chan struct{}), readerr: make(chan error, 1)}
	go p.read(stdout)
	if err := p.enc.Encode(in); err != nil {
		p.Close()
		return nil, fmt.Errorf("client process %d: %w", in.ID, p.explain(err))
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rep, err := p.await(sctx, 0)
	if err == nil {
		err = rep.error()
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("client process %d: %w", in.ID, err)
	}
	return p, nil
}

func (p *processClient) read(stdout io.Reader) {
	dec := json.NewDecoder(stdout)
	defer close(p.replies)
	for {
		var rep processReply
		if err := dec.Decode(&rep); err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			p.readerr <- err
			return
		}
		select {
		case p.replies <- rep:
		case <-p.quit:
		}
	}
}

// await returns the reply numbered seq, dropping late answers to requests
// the parent gave up on.
func (p *processClient) await(ctx context.Context, seq uint64) (processReply, error) {
	for {
		select {
		case rep, ok := <-p.replies:
			if !ok {
				p.broken = p.explain(errors.New("client process exited"))
				return processReply{}, p.broken
			}
			if rep.Seq == seq {
				return rep, nil
			}
		case <-ctx.Done():
			return processReply{}, fmt.Errorf("client process: no answer: %w", ctx.Err())
		}
	}
}

// explain adds what the child wrote on stderr to err.
func (p *processClient) explain(err error) error {
	if s := p.stderr.String(); s != "" {
		return fmt.Errorf("%w (stderr: %q)", err, s)
	}
	return err
}

// call sends one request, with ctx's deadline as its timeout, and waits for
// the answer up to answerGrace past it.
func (p *processClient) call(ctx context.Context, req processRequest) (processReply, error) {
	if p.broken != nil {
		return processReply{}, p.broken
	}
	p.seq++
	req.Seq = p.seq
	wait := context.WithoutCancel(ctx)
	var cancel context.CancelFunc = func() {}
	if dl, ok := ctx.Deadline(); ok {
		req.Timeout = max(time.Until(dl), time.Millisecond)
		wait, cancel = context.WithDeadline(wait, dl.Add(answerGrace))
	}
	defer cancel()
	if err := p.enc.Encode(req); err != nil {
		p.broken = p.explain(fmt.Errorf("client process: %w", err))
		return processReply{}, p.broken
	}
	rep, err := p.await(wait, req.Seq)
	if err != nil {
		return rep, err
	}
	return rep, rep.error()
}

func (p *processClient) Acquire(ctx context.Context) (lock.Token, error) {
	rep, err := p.call(ctx, processRequest{Op: "acquire"})
	return rep.Token, err
}

func (p *processClient) Read(ctx context.Context, token lock.Token) (int64, error) {
	rep, err := p.call(ctx, processRequest{Op: "read", Token: token})
	return rep.Value, err
}

func (p *processClient) Write(ctx context.Context, token lock.Token, v int64) error {
	_, err := p.call(ctx, processRequest{Op: "write", Token: token, Value: v})
	return err
}

func (p *processClient) Release(ctx context.Context) error {
	_, err := p.call(ctx, processRequest{Op: "release"})
	return err
}

func (p *processClient) Reset(ctx context.Context) error {
	_, err := p.call(ctx, processRequest{Op: "reset"})
	return err
}

// Pause stops the child with SIGSTOP, so that its keep-alives stop with
// it, and continues it with SIGCONT after d or when ctx ends.
func (p *processClient) Pause(ctx context.Context, d time.Duration) {
	if err := stopProcess(p.cmd.Process); err != nil {
		return
	}
	sleep(ctx, d)
	continueProcess(p.cmd.Process)
}

// Close ends the child's input, so that it closes its client (revoking its
// session) and exits; a child that has not exited after 10 s is killed.
func (p *processClient) Close() error {
	continueProcess(p.cmd.Process) // never leave it stopped
	p.stdin.Close()
	close(p.quit)
	exited := make(chan error, 1)
	go func() {
		err := <-p.readerr
		if werr := p.cmd.Wait(); err == nil {
			err = werr
		}
		exited <- err
	}()
	select {
	case err := <-exited:
		return err
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		return <-exited
	}
}

// tailBuffer keeps the last max bytes written to it. It is safe for
// concurrent use.
type tailBuffer struct {
	max int
	mu  sync.Mutex // guards b
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

var _ Client = (*processClient)(nil)
