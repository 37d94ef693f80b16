package balancer

// maxSequence bounds the length of a precomputed round-robin cycle (and so
// its build time, O(len × instances), and memory, 4 bytes a step).
const maxSequence = 1 << 13

// smoothSequence returns one cycle of nginx's smooth weighted round-robin
// (ngx_http_upstream_get_peer in ngx_http_upstream_round_robin.c): at each
// step every member's current weight grows by its weight, the member with
// the largest current weight is chosen (the first on ties) and loses the
// total. Over a cycle of Σw steps, member i is chosen exactly w[i] times,
// spread out: weights 5,1,1 give a a b a c a a rather than a a a a a b c.
//
// Weights are first divided by their greatest common divisor. If the cycle
// would still be longer than limit, they are scaled down in proportion to
// fit (each kept at least 1); the relative error of a weight w is then at
// most about Σw/(limit × w).
//
// Picking walks the cycle with an atomic counter, so the hot path needs no
// lock: nginx keeps the current weights in the shared peer list under a
// lock, but they only ever replay this same cycle.
func smoothSequence(weights []uint32, limit int) []int32 {
	w := make([]int64, len(weights))
	g := uint64(0)
	for _, x := range weights {
		g = gcd(g, uint64(x))
	}
	var total int64
	for i, x := range weights {
		w[i] = int64(uint64(x) / g)
		total += w[i]
	}
	if total > int64(limit) {
		scaled := int64(0)
		for i := range w {
			// w[i] × limit fits: w[i] < 2^32 and limit is small.
			w[i] = max(1, w[i]*int64(limit)/total)
			scaled += w[i]
		}
		total = scaled
	}
	seq := make([]int32, total)
	cur := make([]int64, len(w))
	for k := range seq {
		best := 0
		for i := range w {
			cur[i] += w[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		seq[k] = int32(best)
	}
	return seq
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// pickRoundRobin takes the next step of pl's cycle. If that member is
// excluded it walks on along the cycle (at most one member count of
// steps), then falls back to a scan of the members.
func (p *picker) pickRoundRobin(pl *pool, exclude func(string) bool) int {
	n := uint64(len(pl.seq))
	pos := pl.next.Add(1)
	steps := min(n, uint64(len(pl.members)))
	for k := range steps {
		m := pl.seq[(pos+k)%n]
		if !p.excluded(pl, m, exclude) {
			return int(pl.members[m])
		}
	}
	if m := p.scan(pl, pos, exclude); m >= 0 {
		return int(pl.members[m])
	}
	return -1
}
