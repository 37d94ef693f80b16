package replica

import (
	"context"
	"encoding/binary"
	"fmt"
	"log"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// maxPacket is the largest message sent as one UDP packet; memberlist's
// packet is 1400 bytes, minus its own headers and encryption overhead.
const maxPacket = 1100

// maxStatesMessage bounds the states packed into one message.
const maxStatesMessage = 1 << 20

// gossip replicates a Store over memberlist. Membership, failure detection
// and encryption are memberlist's. Deltas of local writes go straight to
// every live member (UDP when small, TCP when not): with the handful of
// sites duohuo runs (Redis Active-Active supports up to 10) a full fan-out
// is cheaper and faster than epidemic forwarding, and as nothing is ever
// forwarded, no delta goes back where it came from. What a lost packet or
// a partition leaves behind is repaired by anti-entropy: every interval,
// and whenever a member (re)joins, this site sends its object digests to
// one member, which answers with the states that differ and, if it is
// missing something, its own digests, so one round repairs both sides.
type gossip struct {
	s    *Store
	ml   *memberlist.Memberlist
	out  chan []record // committed local deltas to send
	in   chan []byte   // received messages
	ask  chan string   // members to run anti-entropy with now
	stop chan struct{}
	wg   sync.WaitGroup

	// The joiner's state (joiner.go). joinMu is taken in memberlist's
	// events callbacks, so nothing may call memberlist while holding it.
	joinMu       sync.Mutex
	targets      map[string]*joinTarget // guarded by joinMu: by address
	addrs        map[string]string      // guarded by joinMu: member name -> last address
	addrsChanged bool                   // guarded by joinMu: addrs differ from what is on disk
	joinKick     chan struct{}
	joinResults  chan joinResult

	// live holds copies of the live members, this site included, kept by
	// the events callbacks. memberlist's Members returns pointers into its
	// own state, which it rewrites in place (a member back at a new
	// address) under a lock it does not share: reading them later races.
	// The callbacks run under that lock, so a copy taken there is whole.
	liveMu sync.Mutex
	live   map[string]memberlist.Node // guarded by liveMu

	queuesMu sync.Mutex
	queues   map[string]chan outMsg // guarded by queuesMu: per-peer send queues

	gc     *stability // what every member has seen, for garbage collection
	clocks *clocks    // the peers' measured clock offsets (clock.go)
}

// outMsg is a message waiting in a peer's send queue.
type outMsg struct {
	typ msgType
	b   []byte
	// after is the watermark number the message reflects: it is sent once
	// every change up to it is durable (see durable.go). Zero for
	// messages that reflect nothing not yet durable.
	after uint64
}

// peerQueueLen bounds each peer's send queue; beyond it messages are
// dropped (anti-entropy repairs) rather than piling up for a slow peer.
const peerQueueLen = 256

func startGossip(ctx context.Context, s *Store) (*gossip, error) {
	g := &gossip{
		s:      s,
		out:    make(chan []record, 4096),
		in:     make(chan []byte, 4096),
		ask:    make(chan string, 64),
		stop:   make(chan struct{}),
		live:   make(map[string]memberlist.Node),
		queues: make(map[string]chan outMsg),
		gc:     newStability(s.cfg.Name, s.disk.members),
		clocks: newClocks(s),

		targets:     make(map[string]*joinTarget),
		addrs:       maps.Clone(s.disk.addrs),
		joinKick:    make(chan struct{}, 1),
		joinResults: make(chan joinResult),
	}
	if g.addrs == nil {
		g.addrs = make(map[string]string)
	}
	for _, a := range s.cfg.Join {
		g.targets[a] = &joinTarget{addr: a, configured: true, resolved: []string{a}}
	}
	// Set before any goroutine that can cause a commit starts: the
	// committer reads s.gossip to hand over local deltas.
	s.gossip = g
	cfg := s.cfg
	mc := cfg.memberlist()
	mc.Name = cfg.Name
	mc.BindAddr = cfg.BindAddr
	mc.BindPort = cfg.BindPort
	mc.AdvertiseAddr = cfg.AdvertiseAddr
	mc.AdvertisePort = cfg.AdvertisePort
	if cfg.AdvertisePort == 0 {
		mc.AdvertisePort = cfg.BindPort
	}
	if cfg.SecretKey != nil {
		kr, err := memberlist.NewKeyring(cfg.OldKeys, cfg.SecretKey)
		if err != nil {
			s.gossip = nil
			return nil, fmt.Errorf("replica: keyring: %w", err)
		}
		mc.Keyring = kr
	}
	mc.Delegate = delegate{g}
	mc.Events = events{g}
	mc.Logger = log.New(mlLog{g}, "", 0)
	if cfg.Transport != nil {
		mc.Transport = cfg.Transport
	}
	if cfg.tweakMemberlist != nil {
		cfg.tweakMemberlist(mc)
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		s.gossip = nil
		return nil, fmt.Errorf("replica: start gossip on %s:%d: %w", cfg.BindAddr, cfg.BindPort, err)
	}
	g.ml = ml
	s.metrics.members.Set(float64(ml.NumMembers()))
	g.wg.Add(4)
	go g.sender()
	go g.receiver()
	go g.antiEntropy()
	// Local first: a site starts and serves at once, even when no other
	// site is reachable; joins run in the background (joiner.go).
	go g.joinLoop()
	if err := ctx.Err(); err != nil {
		return nil, err // Open's caller closes the store, and with it g
	}
	return g, nil
}

// close leaves the cluster and stops gossip. The leave is a courtesy
// that lets the others drop this site at once rather than after their
// probes fail: one not gossiped within a second (a busy machine, peers
// unreachable) is logged, not returned.
func (g *gossip) close() error {
	if err := g.ml.Leave(time.Second); err != nil {
		g.s.log.Warn("replica: leave not announced; the other sites will find this one gone by their probes", "err", err)
	}
	err := g.ml.Shutdown()
	close(g.stop)
	g.wg.Wait()
	return err
}

// broadcast queues committed local deltas for sending. It never blocks: if
// the queue is full the deltas are dropped and anti-entropy repairs.
func (g *gossip) broadcast(recs []record) {
	select {
	case g.out <- recs:
	default:
		g.s.metrics.dropped.WithLabelValues("queue_full").Add(float64(len(recs)))
	}
}

// peers returns the live members other than this one, as copies.
func (g *gossip) peers() []*memberlist.Node {
	g.liveMu.Lock()
	defer g.liveMu.Unlock()
	ps := make([]*memberlist.Node, 0, len(g.live))
	for name, n := range g.live {
		if name != g.s.cfg.Name {
			ps = append(ps, &n)
		}
	}
	return ps
}

// peer returns a copy of the live member name, or nil.
func (g *gossip) peer(name string) *memberlist.Node {
	g.liveMu.Lock()
	defer g.liveMu.Unlock()
	if n, ok := g.live[name]; ok {
		return &n
	}
	return nil
}

// members returns the names of the live members, this site included.
func (g *gossip) members() []string {
	g.liveMu.Lock()
	defer g.liveMu.Unlock()
	ns := make([]string, 0, len(g.live))
	for name := range g.live {
		ns = append(ns, name)
	}
	return ns
}

// remember records a copy of n as live (under memberlist's node lock).
func (g *gossip) remember(n *memberlist.Node) {
	c := *n
	c.Addr = slices.Clone(n.Addr)
	c.Meta = slices.Clone(n.Meta)
	g.liveMu.Lock()
	g.live[n.Name] = c
	g.liveMu.Unlock()
}

// send sends msg to n, as a UDP packet if it fits, otherwise over TCP.
func (g *gossip) send(n *memberlist.Node, typ msgType, msg []byte) {
	var err error
	if len(msg) <= maxPacket {
		err = g.ml.SendBestEffort(n, msg)
	} else {
		err = g.ml.SendReliable(n, msg)
	}
	if err != nil {
		g.s.metrics.dropped.WithLabelValues("send_error").Inc()
		g.s.log.Debug("replica: send", "to", n.Name, "err", err)
		return
	}
	g.s.metrics.sent.WithLabelValues(msgNames[typ]).Inc()
	g.s.metrics.sentBytes.WithLabelValues(msgNames[typ]).Add(float64(len(msg)))
}

// enqueue hands msg to the send queue of the named peer, starting its
// sender goroutine on first use. Each peer has its own queue so that one
// whose TCP is blackholed (dials hang until the TCP timeout) delays only
// its own messages. It never blocks.
func (g *gossip) enqueue(name string, typ msgType, msg []byte, after uint64) {
	g.queuesMu.Lock()
	q, ok := g.queues[name]
	if !ok {
		q = make(chan outMsg, peerQueueLen)
		g.queues[name] = q
		// Called only from goroutines in g.wg, so the count is above zero
		// and Add cannot race with close's Wait.
		g.wg.Add(1)
		go g.peerSender(name, q)
	}
	g.queuesMu.Unlock()
	select {
	case q <- outMsg{typ, msg, after}:
	default:
		g.s.metrics.dropped.WithLabelValues("queue_full").Inc()
	}
}

// peerSender sends one peer's queued messages in order until the store
// closes. A peer that has gone drops its messages.
func (g *gossip) peerSender(name string, q chan outMsg) {
	defer g.wg.Done()
	// Messages that must wait until what they reflect is durable (states,
	// acks) are parked here, not waited for in line, so that deltas,
	// summaries and bucket digests keep flowing while the disk is slow or
	// failing. Parked messages leave in order once durable.
	var parked []outMsg
	deliver := func(m outMsg) {
		if n := g.peer(name); n != nil {
			g.send(n, m.typ, m.b)
		} else {
			g.s.metrics.dropped.WithLabelValues("send_error").Inc()
		}
	}
	for {
		var advanced <-chan struct{}
		if len(parked) > 0 {
			// Taken before reading durable(): an advance after the read
			// closes it.
			advanced = g.s.wm.advanced()
			d := g.s.wm.durable()
			n := 0
			for n < len(parked) && parked[n].after <= d {
				deliver(parked[n])
				n++
			}
			parked = parked[n:]
		}
		select {
		case m := <-q:
			if m.after > 0 && g.s.wm.durable() < m.after {
				if len(parked) == peerQueueLen {
					parked = parked[1:]
					g.s.metrics.dropped.WithLabelValues("queue_full").Inc()
				}
				parked = append(parked, m)
				continue
			}
			deliver(m)
		case <-advanced: // delivered at the top of the loop
		case <-g.stop:
			return
		}
	}
}

// sender packs queued deltas into messages of at most maxPacket bytes (a
// larger delta travels alone over TCP) and sends each to every live peer.
func (g *gossip) sender() {
	defer g.wg.Done()
	for {
		var recs []record
		select {
		case recs = <-g.out:
		case <-g.stop:
			return
		}
	drain:
		for len(recs) < 4096 {
			select {
			case more := <-g.out:
				recs = append(recs, more...)
			default:
				break drain
			}
		}
		peers := g.peers()
		if len(peers) == 0 {
			continue
		}
		// The clock read after the deltas' own times: a receiver that
		// accepts it accepts every stamp in them (clock.go).
		head := message{typ: msgDeltas, from: g.s.cfg.Name, clock: g.s.clock.Now()}
		var pending [][]byte
		for _, r := range recs {
			enc := appendItem(nil, msgDeltas, item{key: r.key, time: r.time, birth: r.birth, obj: r.delta})
			pending = append(pending, enc)
		}
		for len(pending) > 0 {
			// Take items while the message stays within a packet.
			size, n := 16+len(head.from), 0
			for n < len(pending) && (n == 0 || size+len(pending[n]) <= maxPacket) {
				size += len(pending[n])
				n++
			}
			head.items = make([]item, n) // only the count is written
			msg := head.appendHeader(nil)
			for _, p := range pending[:n] {
				msg = append(msg, p...)
			}
			pending = pending[n:]
			for _, p := range peers {
				g.enqueue(p.Name, msgDeltas, msg, 0) // deltas are sent once durable
			}
		}
	}
}

// receiver handles received messages in order.
func (g *gossip) receiver() {
	defer g.wg.Done()
	for {
		select {
		case b := <-g.in:
			g.handle(b)
		case <-g.stop:
			return
		}
	}
}

func (g *gossip) handle(b []byte) {
	s := g.s
	m, err := decodeMessage(b)
	if err != nil {
		s.metrics.rejected.WithLabelValues("malformed").Inc()
		s.log.Warn("replica: malformed message", "err", err)
		return
	}
	s.metrics.received.WithLabelValues(msgNames[m.typ]).Inc()
	if m.from != s.cfg.Name && g.peer(m.from) == nil {
		// memberlist decrypted it with our keys: a site that knows this
		// one, which does not know it (yet). Its deltas and states are
		// applied below; to answer its rounds, join it now.
		g.unknownSender(m.from)
	}
	now := s.wallNow()
	g.clocks.measure(m.from, m.clock, now)
	switch m.typ {
	case msgDeltas, msgStates:
		// The same bound on both paths: a site whose clock runs ahead
		// must not win register writes through state transfer either.
		// The sender's time bounds every stamp its message holds.
		if _, err := s.clock.Update(m.clock); err != nil {
			s.metrics.rejected.WithLabelValues("clock").Add(float64(len(m.items)))
			g.clocks.refused(m.from, msgNames[m.typ], err)
			return
		}
	}
	switch m.typ {
	case msgDeltas:
		var recs []record
		for _, it := range m.items {
			s.metrics.lag.Observe(max(0, now.Sub(it.time.Time()).Seconds()))
			recs = append(recs, record{key: it.key, delta: it.obj, birth: it.birth, size: it.size})
		}
		s.apply(m.from, recs)
	case msgStates:
		recs := make([]record, len(m.items))
		for i, it := range m.items {
			recs[i] = record{key: it.key, delta: it.obj, birth: it.birth, size: it.size}
		}
		s.apply(m.from, recs)
	case msgBuckets:
		g.answerBuckets(m)
	case msgSummaryAsk, msgSummaryAnswer:
		g.answerSummary(m)
	case msgAck:
		g.handleAck(m)
	}
}

// answerSummary sends m's sender the states it lacks (see compare in
// antientropy.go) and, for an ask, this site's summary if the two differ,
// so that the sender sends back what this site lacks.
func (g *gossip) answerSummary(m *message) {
	n := g.peer(m.from)
	if n == nil {
		return
	}
	theirs := make(map[string]item, len(m.items))
	for _, it := range m.items {
		theirs[it.key] = it
	}
	send, differ := g.s.compare(theirs, m.buckets)
	if len(send) > 0 {
		g.sendStates(n, send)
	}
	if m.typ == msgSummaryAsk && differ {
		g.sendSummary(n, msgSummaryAnswer, m.buckets)
	}
}

// answerBuckets starts the exchange for the buckets whose digests differ
// from the sender's, by asking it with this site's summary of them.
func (g *gossip) answerBuckets(m *message) {
	n := g.peer(m.from)
	if n == nil {
		return
	}
	mine := g.s.bucketDigests()
	if differ := differingBuckets(&mine, &m.digests); differ != 0 {
		g.sendSummary(n, msgSummaryAsk, differ)
	}
}

// sendStates sends the named states, packed into messages of up to
// maxStatesMessage bytes (a larger state travels alone, so a single message
// stays under memberlist's 20 MiB user-message bound for as long as one
// object does). Packing matters when many small objects differ at once:
// one TCP message per object cost more than the states themselves.
//
// The states leave only once everything they reflect is durable here (see
// durable.go): at most one group-commit fsync later.
func (g *gossip) sendStates(n *memberlist.Node, keys []string) {
	states, clock, through := g.s.snapshotStates(keys)
	ks := slices.Sorted(maps.Keys(states))
	for len(ks) > 0 {
		size, i := 0, 0
		for i < len(ks) {
			sz := len(ks[i]) + len(states[ks[i]]) + 2*binary.MaxVarintLen64
			if i > 0 && size+sz > maxStatesMessage {
				break
			}
			size += sz
			i++
		}
		head := message{typ: msgStates, from: g.s.cfg.Name, clock: clock, items: make([]item, i)} // only the count is written
		msg := head.appendHeader(nil)
		for _, k := range ks[:i] {
			// A states item (see appendItem), from the bytes already
			// encoded: the birth, then the state.
			msg = append(appendStr(msg, k), states[k][:16]...)
			msg = appendBytesField(msg, states[k][16:])
		}
		g.enqueue(n.Name, msgStates, msg, through)
		g.s.metrics.transfers.Add(float64(i))
		ks = ks[i:]
	}
}

func (g *gossip) sendSummary(n *memberlist.Node, typ msgType, buckets uint64) {
	m := &message{typ: typ, from: g.s.cfg.Name, clock: g.s.clock.Now(), buckets: buckets, items: g.s.summary(buckets)}
	g.enqueue(n.Name, typ, m.encode(), 0) // digests and contexts: nothing another site could keep
}

// antiEntropy starts a round with a random live peer every interval, and
// at once with a member that (re)joins, so that a healed partition
// converges without waiting for the timer. Nothing in it waits on the
// network: members declared dead are joined again by the joiner
// (joiner.go), whose attempts may take a TCP timeout each.
func (g *gossip) antiEntropy() {
	defer g.wg.Done()
	t := time.NewTicker(g.s.cfg.antiEntropyInterval())
	defer t.Stop()
	for {
		var n *memberlist.Node
		select {
		case <-t.C:
			g.s.metrics.members.Set(float64(g.ml.NumMembers()))
			if ps := g.peers(); len(ps) > 0 {
				n = ps[rand.IntN(len(ps))]
			}
			g.s.rotateContexts()
			g.gcRound()
		case name := <-g.ask:
			n = g.peer(name)
		case <-g.stop:
			return
		}
		if n == nil {
			continue
		}
		g.s.metrics.rounds.Inc()
		if g.s.cfg.fullSummaryAE {
			g.sendSummary(n, msgSummaryAsk, ^uint64(0))
			continue
		}
		m := &message{typ: msgBuckets, from: g.s.cfg.Name, clock: g.s.clock.Now(), digests: g.s.bucketDigests()}
		g.enqueue(n.Name, msgBuckets, m.encode(), 0) // digests: nothing another site could keep
	}
}

// delegate receives memberlist's callbacks; it must not block.
type delegate struct{ g *gossip }

func (delegate) NodeMeta(int) []byte { return nil }

func (d delegate) NotifyMsg(b []byte) {
	// memberlist reuses b after we return.
	select {
	case d.g.in <- append([]byte(nil), b...):
	default:
		d.g.s.metrics.dropped.WithLabelValues("queue_full").Inc()
	}
}

func (delegate) GetBroadcasts(int, int) [][]byte { return nil }
func (delegate) LocalState(bool) []byte          { return nil }
func (delegate) MergeRemoteState([]byte, bool)   {}

type events struct{ g *gossip }

// The events callbacks run with memberlist's node lock held: they must not
// call back into memberlist (NumMembers, Members would deadlock).

func (e events) NotifyJoin(n *memberlist.Node) {
	e.g.remember(n)
	if e.g.s.cfg.Name == n.Name {
		return
	}
	e.g.seenAt(n.Name, n.Address())
	e.g.gc.addMember(n.Name)
	select {
	case e.g.ask <- n.Name:
	default:
	}
}

// NotifyLeave drops the member from the live ones; the joiner tries it
// again (its address is remembered). memberlist's Node does not say
// whether it died or left (the state lives beside it), and a site that
// left on purpose is shut down, so trying it costs one refused connection
// per backoff.
func (e events) NotifyLeave(n *memberlist.Node) {
	e.g.liveMu.Lock()
	delete(e.g.live, n.Name)
	e.g.liveMu.Unlock()
	e.g.kickJoiner()
}

// NotifyUpdate keeps the copy current: a member that came back at another
// address, or with other metadata.
func (e events) NotifyUpdate(n *memberlist.Node) {
	e.g.remember(n)
	e.g.seenAt(n.Name, n.Address())
}
