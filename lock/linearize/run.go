package linearize

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/duohuo/duohuo/lock"
	"github.com/duohuo/duohuo/lock/etcdlock"
)

// MaxClients bounds Config.Clients: Porcupine's cost grows steeply with the
// number of operations open at once on one key (measured: ~10 is
// milliseconds, ~20 is seconds to timeouts), and every client may have one
// open.
const MaxClients = 10

// Config tunes a run. The zero value is valid: every default is on its field.
type Config struct {
	// Clients is the number of concurrent clients, each with its own etcd
	// connection. Zero means 8; at most MaxClients.
	Clients int
	// Duration is how long clients loop. Zero means 10 s.
	Duration time.Duration
	// TTL is the lease TTL of the locks. Zero means 2 s (etcd's minimum with
	// default election settings; the embedded cluster allows 1 s).
	TTL time.Duration
	// Key is the etcd key prefix for the run's lock, register and fence,
	// all deleted when the run ends. Empty means
	// "/duohuo/lock-verify/<seed>": a fresh one per run, so that the
	// register starts at zero.
	Key string
	// CheckTimeout bounds each Porcupine check; a timeout is a failure.
	// Zero means 1 minute.
	CheckTimeout time.Duration
	// VisualizeDir, if set, receives a Porcupine HTML visualisation of every
	// history that is not linearizable.
	VisualizeDir string
	// Seed seeds the run's random choices (pause lengths). Zero means a
	// random seed, reported in the Result.
	Seed uint64
	// ClientCommand returns a command that runs one client in a child
	// process: a program that calls ServeClient on its standard input and
	// output (the duohuo command's is `duohuo lock verify-client`). Faults
	// with Processes set need it, and stop the process it starts, so it
	// must be the client itself, not a wrapper. Nil refuses those faults
	// with ErrNeedsClientCommand.
	ClientCommand func() *exec.Cmd
}

func (c Config) withDefaults() (Config, error) {
	if c.Clients == 0 {
		c.Clients = 8
	}
	if c.Clients < 1 || c.Clients > MaxClients {
		return c, fmt.Errorf("clients = %d, want 1..%d", c.Clients, MaxClients)
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Duration < 0 {
		return c, fmt.Errorf("duration = %v, want > 0", c.Duration)
	}
	if c.TTL == 0 {
		c.TTL = 2 * time.Second
	}
	if c.TTL < time.Second {
		return c, fmt.Errorf("ttl = %v, want >= 1s (etcd leases are whole seconds)", c.TTL)
	}
	if c.CheckTimeout == 0 {
		c.CheckTimeout = time.Minute
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	if c.Key == "" {
		c.Key = fmt.Sprintf("/duohuo/lock-verify/%016x", c.Seed)
	}
	return c, nil
}

// Verdict is the outcome of checking one history against one model.
type Verdict string

// The verdicts. A timeout is a failure, as in etcd's robustness tests.
const (
	Linearizable    Verdict = "ok"
	NotLinearizable Verdict = "violation"
	CheckTimeout    Verdict = "timeout"
)

// Result is the outcome of one run.
type Result struct {
	Subject, Fault string
	Seed           uint64
	// Acquires counts locks granted; Failed acquires that certainly took
	// nothing (ErrNotAcquired); Refused writes the resource refused (stale
	// token); Lost releases that found the lock lost; Unknown operations
	// with an unknown outcome; Pauses client stalls.
	Acquires, Failed, Writes, Refused, Lost, Unknown, Pauses int
	// Mutex and Register are the verdicts of the two models.
	Mutex, Register Verdict
	// Visualizations are the HTML files written for failing histories.
	Visualizations []string
	// FaultErr is the error of the fault injection, if any (the run is
	// still checked).
	FaultErr error
	// Elapsed is the run's length; Check the time the checks took.
	Elapsed, Check time.Duration
}

// Linearizable reports whether both models accepted the histories.
func (r Result) Linearizable() bool { return r.Mutex == Linearizable && r.Register == Linearizable }

// recorder collects one client's operations; merged after the run.
type recorder struct {
	base                 time.Time
	id                   int
	mutex, reg           []porcupine.Operation
	acq, writes, refused int
	lost, unknown, pause int
	failed               int
}

func (r *recorder) now() int64 { return time.Since(r.base).Nanoseconds() }

func (r *recorder) mutexOp(k mutexKind, call, ret int64) {
	r.mutex = append(r.mutex, porcupine.Operation{ClientId: r.id, Input: mutexInput{Kind: k, Client: r.id}, Call: call, Return: ret})
}

// Run drives cfg.Clients clients of subject against env while fault runs,
// then checks the histories. It returns an error only when the run could
// not happen (bad config, no connection, a fault the environment cannot
// inject); a lock that misbehaves is reported in the Result. Runs may go on
// concurrently on one cluster if their Keys differ and none injects a
// server fault.
func Run(ctx context.Context, env Env, subject Subject, fault Fault, cfg Config) (Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Result{}, fmt.Errorf("linearize: %w", err)
	}
	if fault.NeedsCluster() && env.Cluster == nil {
		return Result{}, fmt.Errorf("%w: %s", ErrNeedsCluster, fault.Name)
	}
	if fault.Processes && (cfg.ClientCommand == nil || !canStopProcesses) {
		return Result{}, fmt.Errorf("%w: %s", ErrNeedsClientCommand, fault.Name)
	}
	if fault.Processes && Subjects[subject.Name].Name != subject.Name {
		return Result{}, fmt.Errorf("linearize: subject %q cannot run in a client process: not in Subjects", subject.Name)
	}
	res := Result{Subject: subject.Name, Fault: fault.Name, Seed: cfg.Seed}
	// Clients in this process have a connection each; client processes
	// have their own, and this process needs one only to clean up.
	nconn := cfg.Clients
	if fault.Processes {
		nconn = 1
	}
	clis := make([]*clientv3.Client, nconn)
	defer func() {
		for _, c := range clis {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range clis {
		// The lock tools' shared client settings: the keep-alive finds a
		// silent connection as the duohuo command's would.
		c, err := clientv3.New(etcdlock.ClientConfig(env.Endpoints))
		if err != nil {
			return res, fmt.Errorf("linearize: connect client %d: %w", i, err)
		}
		clis[i] = c
	}

	cls := make([]Client, cfg.Clients)
	defer func() {
		for _, cl := range cls {
			if cl != nil {
				cl.Close()
			}
		}
	}()
	for i := range cls {
		if !fault.Processes {
			cls[i] = subject.NewClient(clis[i], cfg.Key, i, cfg.TTL)
			continue
		}
		p, err := startProcessClient(ctx, cfg.ClientCommand(),
			processInit{Subject: subject.Name, Endpoints: env.Endpoints, Key: cfg.Key, ID: i, TTL: cfg.TTL})
		if err != nil {
			return res, fmt.Errorf("linearize: %w", err)
		}
		cls[i] = p
	}

	base := time.Now()
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var wg sync.WaitGroup
	if fault.Inject != nil {
		wg.Go(func() {
			// Let traffic settle, hold the fault for about a third of the
			// run, then heal before the clients stop.
			res.FaultErr = fault.Inject(runCtx, env.Cluster, cfg.Duration/4, cfg.Duration/3)
		})
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0))
	var nextPause atomic.Int64 // earliest time (ns since base) of the next pause
	nextPause.Store(int64(cfg.Duration / 8))
	recs := make([]*recorder, cfg.Clients)
	for i := range recs {
		rec := &recorder{base: base, id: i}
		recs[i] = rec
		// Pause lengths are drawn up front: rand.Rand is not safe to share.
		pauses := make([]time.Duration, 64)
		for j := range pauses {
			pauses[j] = cfg.TTL*3/2 + time.Duration(rng.Int64N(int64(cfg.TTL*3/2)))
		}
		cl := cls[i]
		wg.Go(func() { runClient(runCtx, cl, rec, cfg, fault.Pauses, &nextPause, pauses) })
	}
	wg.Wait()
	res.Elapsed = time.Since(base)
	// Close the clients (releasing what they hold) before the cleanup
	// below deletes the run's keys.
	var cwg sync.WaitGroup
	for i, cl := range cls {
		cwg.Go(func() { cl.Close() })
		cls[i] = nil
	}
	cwg.Wait()
	// Leave nothing behind on a user's cluster: the lock keys die with their
	// leases, the register and the fence are deleted here (best effort).
	dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	clis[0].Delete(dctx, cfg.Key+"/", clientv3.WithPrefix())
	dcancel()

	var mutexOps, regOps []porcupine.Operation
	for _, r := range recs {
		mutexOps = append(mutexOps, r.mutex...)
		regOps = append(regOps, r.reg...)
		res.Acquires += r.acq
		res.Failed += r.failed
		res.Writes += r.writes
		res.Refused += r.refused
		res.Lost += r.lost
		res.Unknown += r.unknown
		res.Pauses += r.pause
	}
	checkStart := time.Now()
	name := fmt.Sprintf("%s-%s-%016x", subject.Name, fault.Name, cfg.Seed)
	var verr error
	res.Mutex, verr = check(MutexModel.ToModel(), mutexOps, cfg, name+"-mutex", &res)
	res.Register, err = check(RegisterModel.ToModel(), regOps, cfg, name+"-register", &res)
	res.Check = time.Since(checkStart)
	return res, errors.Join(verr, err)
}

// check runs Porcupine and writes a visualisation when the history fails.
func check(m porcupine.Model, ops []porcupine.Operation, cfg Config, name string, res *Result) (Verdict, error) {
	r, info := porcupine.CheckOperationsVerbose(m, ops, cfg.CheckTimeout)
	v := Linearizable
	switch r {
	case porcupine.Illegal:
		v = NotLinearizable
	case porcupine.Unknown:
		v = CheckTimeout
	}
	if v == Linearizable || cfg.VisualizeDir == "" {
		return v, nil
	}
	if err := os.MkdirAll(cfg.VisualizeDir, 0o755); err != nil {
		return v, fmt.Errorf("linearize: visualisation dir: %w", err)
	}
	path := filepath.Join(cfg.VisualizeDir, name+".html")
	if err := porcupine.VisualizePath(m, info, path); err != nil {
		return v, fmt.Errorf("linearize: write %s: %w", path, err)
	}
	res.Visualizations = append(res.Visualizations, path)
	return v, nil
}

// runClient is one client's loop: acquire, read, (maybe stall), write,
// release, recording every operation, until ctx ends.
func runClient(ctx context.Context, cl Client, rec *recorder, cfg Config, pauses bool, nextPause *atomic.Int64, pauseLens []time.Duration) {
	opTimeout := 2 * cfg.TTL
	backoff := cfg.TTL / 10
	acquireTimeout := max(5*time.Second, 4*cfg.TTL)
	// Operations run on contexts detached from ctx, so that the end of the
	// run never turns a finished operation's outcome into "unknown".
	bg := context.WithoutCancel(ctx)
	// reset follows an operation whose outcome is unknown. The lock may have
	// been lost or released at any time since the acquire was invoked, so
	// the uncertain release spans from there to now. It ends before the
	// client's cleanup, not after: if the lock really stays held longer
	// (an unrevoked lease), etcd keeps others out until it expires, so they
	// acquire later still, and a shorter interval costs the checker less
	// without accepting anything a longer one would refuse.
	reset := func(acqCall int64) {
		rec.mutexOp(releaseUncertain, acqCall, rec.now())
		rctx, cancel := context.WithTimeout(bg, 5*cfg.TTL+5*time.Second)
		cl.Reset(rctx)
		cancel()
		sleep(ctx, backoff) // do not spin while the cluster is unavailable
	}
	for ctx.Err() == nil {
		actx, cancel := context.WithTimeout(bg, acquireTimeout)
		acqCall := rec.now()
		tok, err := cl.Acquire(actx)
		acqRet := rec.now()
		cancel()
		if errors.Is(err, ErrNotAcquired) {
			rec.failed++
			sleep(ctx, backoff)
			continue
		}
		if err != nil {
			rec.unknown++
			rec.mutexOp(acquireUnknown, acqCall, acqRet)
			reset(acqCall)
			continue
		}
		rec.acq++
		rec.mutexOp(acquireOK, acqCall, acqRet)

		rctx, cancel := context.WithTimeout(bg, opTimeout)
		readCall := rec.now()
		v, err := cl.Read(rctx, tok)
		cancel()
		if err == nil {
			// One client at a time stalls; the next pause comes a TTL after
			// this one ends.
			np, now := nextPause.Load(), rec.now()
			if pauses && now >= np && rec.pause < len(pauseLens) {
				d := pauseLens[rec.pause]
				if nextPause.CompareAndSwap(np, now+int64(d+cfg.TTL)) {
					rec.pause++
					cl.Pause(ctx, d) // the run's end wakes it
				}
			}
			wctx, cancel := context.WithTimeout(bg, opTimeout)
			werr := cl.Write(wctx, tok, v+1)
			cancel()
			out := writeOK
			switch {
			case werr == nil:
				rec.writes++
			case errors.Is(werr, lock.ErrStaleToken) || errors.Is(werr, lock.ErrLost):
				out = writeRefused
				rec.refused++
			default:
				out = writeUnknown
				rec.unknown++
			}
			rec.reg = append(rec.reg, porcupine.Operation{ClientId: rec.id,
				Input: incrInput{Client: rec.id, Read: v, Outcome: out}, Call: readCall, Return: rec.now()})
		}

		uctx, cancel := context.WithTimeout(bg, opTimeout)
		relCall := rec.now()
		err = cl.Release(uctx)
		cancel()
		switch {
		case err == nil:
			rec.mutexOp(releaseOK, relCall, rec.now())
		case errors.Is(err, lock.ErrLost):
			rec.lost++
			rec.mutexOp(releaseUncertain, acqCall, rec.now())
		default:
			rec.unknown++
			reset(acqCall)
		}
	}
}
