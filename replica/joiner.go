package replica

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"time"
)

// Joins run in the background: Open returns before any peer answers, and
// a site serves local reads and writes while it is cut off. The joiner
// keeps trying every join target this site is not connected to, each on
// its own (an attempt into a blackhole takes memberlist's TCP timeout, 30s
// on WAN, and delays no other), with jittered exponential backoff from
// about a probe interval up to 30s, for as long as it is not connected:
//
//   - the configured join addresses (Config.Join), and
//   - the last address of every member this site has ever seen, persisted
//     (meta/addrs) so that sites that all restart during a partition find
//     each other again when it heals, until [Store.Forget].
//
// A target is connected while a live member is at its address (or, for a
// member, while the member is live). A message from a site this one does
// not know as a member, which memberlist has decrypted with our keys, is
// from a site that knows us while we do not know it (we restarted while
// our outbound traffic failed): it triggers an attempt at once, so that
// we answer its anti-entropy rounds without waiting for the backoff.
//
// Nothing in the anti-entropy loop waits for a join.

// joinTarget is the state of joining one address.
type joinTarget struct {
	addr       string
	configured bool      // in Config.Join
	name       string    // the member last seen at addr, if any
	resolved   []string  // addr with its host resolved, from the last attempt
	inflight   bool      // an attempt is running
	connected  bool      // as of the last pass
	joined     bool      // the last attempt succeeded
	failures   int       // attempts failed since the last success or connection
	next       time.Time // when the next attempt is due
	last       time.Time // when the last attempt started
	err        error     // of the last failed attempt
	since      time.Time // first failure of the current run
	keyRefused bool      // the peer refused our key, or we could not decrypt it
	self       bool      // this site's own address
}

// joinResult is the outcome of one attempt.
type joinResult struct {
	addr     string
	resolved []string
	err      error
}

// Peer is the state of one join target of a site (see [Store.Peers]).
type Peer struct {
	// Addr is the target's "host:port".
	Addr string `json:"addr"`
	// Site is the name of the member last seen at Addr, if any.
	Site string `json:"site,omitempty"`
	// Configured is set for an address of Config.Join; the others are
	// members seen before.
	Configured bool `json:"configured"`
	// State is "connected", "joining" (no attempt has finished yet),
	// "unreachable" or "key_refused": the peer closed the connection
	// without answering or sent what our keys cannot decrypt, as when
	// the sites' secret keys differ.
	State string `json:"state"`
	// Error is the last attempt's error, while not connected.
	Error string `json:"error,omitempty"`
	// Since is when the attempts started failing, while not connected.
	Since time.Time `json:"since,omitzero"`
	// Failures counts the attempts failed since.
	Failures int `json:"failures,omitempty"`
}

// Peer states.
const (
	PeerConnected   = "connected"
	PeerJoining     = "joining"
	PeerUnreachable = "unreachable"
	PeerKeyRefused  = "key_refused"
)

// errKey marks a join that failed the way a key mismatch fails.
var errKey = errors.New("the peer closed the connection without answering: its secret key (or old keys) differs from this site's, or the address is not a replication port")

// keyError reports whether err is how a join to a peer with another key
// ends: memberlist's peer closes the stream it cannot decrypt.
func keyError(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "EOF") || strings.Contains(s, "connection reset") ||
		strings.Contains(s, "decrypt") || strings.Contains(s, "encrypt")
}

// joinLoop runs the joiner until the store closes.
func (g *gossip) joinLoop() {
	defer g.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-g.joinKick:
		case r := <-g.joinResults:
			g.joinDone(r)
		case <-g.stop:
			return
		}
		if addrs, ok := g.unsavedAddrs(); ok {
			if err := g.s.disk.saveAddrs(addrs); err != nil {
				g.s.log.Error("replica: remember member addresses", "err", err)
				g.joinMu.Lock()
				g.addrsChanged = true
				g.joinMu.Unlock()
			}
		}
		wait := g.joinPass(time.Now())
		timer.Stop()
		select {
		case <-timer.C:
		default:
		}
		timer.Reset(wait)
	}
}

// kickJoiner makes the joiner look at its targets now. It never blocks.
func (g *gossip) kickJoiner() {
	select {
	case g.joinKick <- struct{}{}:
	default:
	}
}

// joinPass updates the targets from the live members, starts the attempts
// that are due, and returns how long until the next one is.
func (g *gossip) joinPass(now time.Time) time.Duration {
	g.liveMu.Lock()
	live := make(map[string]string, len(g.live))
	for name, n := range g.live {
		live[name] = n.Address()
	}
	g.liveMu.Unlock()
	self := live[g.s.cfg.Name]
	liveAddrs := make(map[string]bool, len(live))
	for name, a := range live {
		if name != g.s.cfg.Name {
			liveAddrs[a] = true
		}
	}
	_, ceiling := g.s.cfg.joinBackoffs()
	wait := ceiling

	g.joinMu.Lock()
	defer g.joinMu.Unlock()
	for name, a := range g.addrs {
		t := g.targets[a]
		if t == nil {
			t = &joinTarget{addr: a, resolved: []string{a}}
			g.targets[a] = t
		}
		t.name = name
	}
	for a, t := range g.targets {
		if !t.configured && (t.name == "" || g.addrs[t.name] != a) {
			delete(g.targets, a) // a member that moved, or was forgotten
			continue
		}
		t.self = slices.Contains(t.resolved, self) || t.name == g.s.cfg.Name
		if t.self {
			continue
		}
		was := t.connected
		_, nameLive := live[t.name]
		t.connected = t.name != "" && nameLive
		for _, r := range t.resolved {
			if liveAddrs[r] {
				t.connected = true
			}
		}
		if t.connected {
			t.failures, t.err, t.since, t.keyRefused = 0, nil, time.Time{}, false
			continue
		}
		if was {
			t.next = now // just lost: try at once
		}
		if t.inflight {
			continue
		}
		if !t.next.After(now) {
			g.startJoin(t, now)
			continue
		}
		wait = min(wait, t.next.Sub(now))
	}
	return max(wait, time.Millisecond)
}

// startJoin starts an attempt to join t. Called with joinMu held, from the
// joiner goroutine (in g.wg, so Add cannot race with close's Wait).
func (g *gossip) startJoin(t *joinTarget, now time.Time) {
	t.inflight, t.last = true, now
	addr := t.addr
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		r := joinResult{addr: addr, resolved: resolve(addr, g.stop)}
		select {
		case <-g.stop:
			return
		default:
		}
		if _, err := g.ml.Join([]string{addr}); err != nil {
			r.err = err
		}
		select {
		case g.joinResults <- r:
		case <-g.stop:
		}
	}()
}

// resolve returns addr with its host resolved to IP addresses (addr itself
// if it is an IP address or cannot be resolved), for comparison with the
// members' addresses.
func resolve(addr string, stop <-chan struct{}) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || net.ParseIP(host) != nil {
		return []string{addr}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	ips, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil || len(ips) == 0 {
		return []string{addr}
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = net.JoinHostPort(ip, port)
	}
	return out
}

// joinDone records the outcome of an attempt.
func (g *gossip) joinDone(r joinResult) {
	base, ceiling := g.s.cfg.joinBackoffs()
	now := time.Now()
	g.joinMu.Lock()
	t := g.targets[r.addr]
	if t == nil {
		g.joinMu.Unlock()
		return
	}
	t.inflight = false
	t.resolved = r.resolved
	if r.err == nil {
		g.s.metrics.joins.WithLabelValues("ok").Inc()
		if t.failures > 0 {
			g.s.log.Info("replica: joined", "peer", t.addr, "after", t.failures)
		}
		t.joined, t.failures, t.err, t.since, t.keyRefused = true, 0, nil, time.Time{}, false
		// A target still not connected after a join (an address that is
		// not the member's own, behind NAT) is joined again later.
		t.next = now.Add(ceiling)
		g.joinMu.Unlock()
		return
	}
	g.s.metrics.joins.WithLabelValues("error").Inc()
	t.joined = false
	t.failures++
	if t.since.IsZero() {
		t.since = now
	}
	t.err = r.err
	if keyError(r.err) {
		t.keyRefused = true
	}
	d := ceiling
	if t.failures < 32 {
		d = min(ceiling, base<<(t.failures-1))
	}
	d = d/2 + rand.N(d/2+1) // jitter: sites cut off together do not retry in step
	t.next = now.Add(d)
	first, addr, key, err := t.failures == 1, t.addr, t.keyRefused, t.err
	g.joinMu.Unlock()
	switch {
	case first && key:
		g.s.log.Warn("replica: join refused; retrying in the background", "peer", addr, "err", err, "reason", errKey)
	case first:
		g.s.log.Warn("replica: join failed; retrying in the background", "peer", addr, "err", err)
	default:
		g.s.log.Debug("replica: join failed", "peer", addr, "err", err, "retry_in", d)
	}
}

// unsavedAddrs returns the members' addresses if they changed since the
// last call.
func (g *gossip) unsavedAddrs() (map[string]string, bool) {
	g.joinMu.Lock()
	defer g.joinMu.Unlock()
	if !g.addrsChanged {
		return nil, false
	}
	g.addrsChanged = false
	return maps.Clone(g.addrs), true
}

// seenAt records that member name is at addr (from the events callbacks,
// under memberlist's lock: only joinMu is taken).
func (g *gossip) seenAt(name, addr string) {
	if name == g.s.cfg.Name {
		return
	}
	g.joinMu.Lock()
	if g.addrs[name] != addr {
		g.addrs[name] = addr
		g.addrsChanged = true
	}
	g.joinMu.Unlock()
	g.kickJoiner()
}

// forgetAddr stops joining member name.
func (g *gossip) forgetAddr(name string) {
	g.joinMu.Lock()
	if _, ok := g.addrs[name]; ok {
		delete(g.addrs, name)
		g.addrsChanged = true
	}
	g.joinMu.Unlock()
	g.kickJoiner()
}

// unknownSender is called for a message from a site that is not a live
// member: join it (or, if its address is unknown, every target) now,
// unless an attempt started less than a backoff base ago.
func (g *gossip) unknownSender(name string) {
	base, _ := g.s.cfg.joinBackoffs()
	gap := min(base, time.Second)
	now := time.Now()
	g.joinMu.Lock()
	a, known := g.addrs[name]
	kicked := false
	for _, t := range g.targets {
		if (known && t.addr != a) || t.connected || t.inflight || now.Sub(t.last) < gap {
			continue
		}
		t.next, kicked = now, true
	}
	g.joinMu.Unlock()
	if kicked {
		g.s.log.Debug("replica: message from a site not known as a member; joining", "site", name)
		g.kickJoiner()
	}
}

// keyFailure records that a message from addr could not be decrypted.
func (g *gossip) keyFailure(addr string) {
	g.joinMu.Lock()
	defer g.joinMu.Unlock()
	for _, t := range g.targets {
		if !t.connected && slices.Contains(t.resolved, addr) {
			t.keyRefused = true
		}
	}
}

// peerStates returns the state of every join target but this site's own.
func (g *gossip) peerStates() []Peer {
	g.joinMu.Lock()
	defer g.joinMu.Unlock()
	out := make([]Peer, 0, len(g.targets))
	for _, t := range g.targets {
		if t.self {
			continue
		}
		p := Peer{Addr: t.addr, Site: t.name, Configured: t.configured}
		switch {
		case t.connected || (t.joined && t.failures == 0):
			p.State = PeerConnected
		case t.failures == 0:
			p.State = PeerJoining
		case t.keyRefused:
			p.State = PeerKeyRefused
		default:
			p.State = PeerUnreachable
		}
		if p.State != PeerConnected && t.err != nil {
			p.Error = t.err.Error()
			if t.keyRefused {
				p.Error += " (" + errKey.Error() + ")"
			}
			p.Since, p.Failures = t.since, t.failures
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Peer) int { return strings.Compare(a.Addr, b.Addr) })
	return out
}

// Peers returns the state of this site's join targets, sorted by address:
// the configured join addresses and every member seen before (see
// docs/replication.md, "Joins"); nil if the store runs alone.
func (s *Store) Peers() []Peer {
	if s.gossip == nil {
		return nil
	}
	return s.gossip.peerStates()
}
