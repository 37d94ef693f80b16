package linearize

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/duohuo/duohuo/fault/tcpproxy"
)

// ErrNeedsCluster is returned by Run for a fault that needs control of the
// servers when the environment has none (a user's own cluster).
var ErrNeedsCluster = errors.New("linearize: fault needs an embedded cluster")

// Fault is one kind of fault injected during a run.
type Fault struct {
	// Name identifies the fault in reports and on the command line.
	Name string
	// Pauses makes clients stall past their TTL in critical sections (the
	// process stops between reading and writing the register).
	Pauses bool
	// Processes runs every client in a child process (Config.ClientCommand),
	// so that a pause is a real SIGSTOP of the process, then SIGCONT, with
	// whatever the runtime and the etcd client do in the background.
	Processes bool
	// Inject, if set, runs during the run with the cluster's control; it
	// starts the fault after start, holds it for hold, heals it, and
	// returns. Nil for client-side faults.
	Inject func(ctx context.Context, c Cluster, start, hold time.Duration) error
}

// NeedsCluster reports whether the fault needs an embedded cluster.
func (f Fault) NeedsCluster() bool { return f.Inject != nil }

// Faults are the faults Run knows, by name.
var Faults = map[string]Fault{
	"none":             {Name: "none"},
	"pause":            {Name: "pause", Pauses: true},
	"sigstop":          {Name: "sigstop", Pauses: true, Processes: true},
	"leader-kill":      {Name: "leader-kill", Inject: killMember(true)},
	"member-kill":      {Name: "member-kill", Inject: killMember(false)},
	"latency-low":      {Name: "latency-low", Inject: peerLatency(3*time.Millisecond, 2*time.Millisecond)},
	"latency-high":     {Name: "latency-high", Inject: peerLatency(75*time.Millisecond, 50*time.Millisecond)},
	"partition-leader": {Name: "partition-leader", Inject: partitionLeader},
}

// FaultNames returns the names in Faults, sorted.
func FaultNames() []string {
	var names []string
	for n := range Faults {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ParseFaults turns a comma-separated list of fault names into faults; "all"
// means every fault.
func ParseFaults(list []string) ([]Fault, error) {
	var out []Fault
	for _, n := range list {
		if n == "all" {
			for _, name := range FaultNames() {
				out = append(out, Faults[name])
			}
			continue
		}
		f, ok := Faults[n]
		if !ok {
			return nil, fmt.Errorf("unknown fault %q (known: %v, all)", n, FaultNames())
		}
		out = append(out, f)
	}
	return out, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// killMember kills the leader (or a follower) after start, restarts it
// after hold.
func killMember(leader bool) func(ctx context.Context, c Cluster, start, hold time.Duration) error {
	return func(ctx context.Context, c Cluster, start, hold time.Duration) error {
		if err := sleep(ctx, start); err != nil {
			return nil
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		l, err := c.Leader(lctx)
		cancel()
		if err != nil {
			return err
		}
		victim := l
		if !leader {
			victim = (l + 1) % c.Size()
		}
		c.Kill(victim)
		sleep(ctx, hold)
		return c.Restart(victim)
	}
}

// peerLatency adds delay±jitter to every member's peer traffic, both ways.
func peerLatency(delay, jitter time.Duration) func(ctx context.Context, c Cluster, start, hold time.Duration) error {
	return func(ctx context.Context, c Cluster, start, hold time.Duration) error {
		if err := sleep(ctx, start); err != nil {
			return nil
		}
		t := tcpproxy.Latency{Delay: delay, Jitter: jitter}
		for i := range c.Size() {
			if err := c.PeerProxy(i).Set("latency", tcpproxy.Both, t); err != nil {
				return err
			}
		}
		sleep(ctx, hold)
		for i := range c.Size() {
			c.PeerProxy(i).Remove("latency")
		}
		return nil
	}
}

// partitionLeader blackholes everything into the leader: its peer
// listener (so followers stop hearing its heartbeats and elect another)
// and its client listener (so clients talking to it get no answer). The
// leader's own outgoing peer connections pass other members' proxies, which
// stay clean: it learns of the new term and steps down, as a leader behind
// an asymmetric partition does.
func partitionLeader(ctx context.Context, c Cluster, start, hold time.Duration) error {
	if err := sleep(ctx, start); err != nil {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	l, err := c.Leader(lctx)
	cancel()
	if err != nil {
		return err
	}
	for _, p := range []*tcpproxy.Proxy{c.PeerProxy(l), c.ClientProxy(l)} {
		if err := p.Set("partition", tcpproxy.Both, tcpproxy.Blackhole{}); err != nil {
			return err
		}
	}
	sleep(ctx, hold)
	for _, p := range []*tcpproxy.Proxy{c.PeerProxy(l), c.ClientProxy(l)} {
		p.Remove("partition")
	}
	return nil
}
