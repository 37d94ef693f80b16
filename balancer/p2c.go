package balancer

// aliasTable builds Vose's alias table for weights (M. D. Vose, "A linear
// algorithm for generating random numbers with a given distribution",
// IEEE TSE 1991): draw a column uniformly, keep it with probability
// prob[i]/2^32, else take alias[i].
func aliasTable(weights []uint32) (prob []uint64, alias []int32) {
	n := len(weights)
	prob = make([]uint64, n)
	alias = make([]int32, n)
	var total float64
	for _, w := range weights {
		total += float64(w)
	}
	scaled := make([]float64, n)
	small := make([]int32, 0, n)
	large := make([]int32, 0, n)
	for i, w := range weights {
		scaled[i] = float64(w) * float64(n) / total
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		prob[s] = uint64(scaled[s] * (1 << 32))
		alias[s] = l
		scaled[l] -= 1 - scaled[s]
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// What is left is 1 up to rounding: keep the column always.
	for _, i := range large {
		prob[i], alias[i] = 1<<32, i
	}
	for _, i := range small {
		prob[i], alias[i] = 1<<32, i
	}
	return prob, alias
}

// draw returns a member of pl with probability proportional to its weight.
func (p *picker) draw(pl *pool) int32 {
	r := p.b.cfg.Rand()
	// Lemire's multiply-shift maps the high 32 bits onto [0, n) without a
	// division; the low 32 bits decide between the column and its alias.
	col := int32((r >> 32) * uint64(len(pl.members)) >> 32)
	if r&(1<<32-1) < pl.prob[col] {
		return col
	}
	return pl.alias[col]
}

// drawAllowed draws up to three times for a member exclude does not reject
// (go-zero's p2c also tries three times), then scans; -1 if there is none.
func (p *picker) drawAllowed(pl *pool, exclude func(string) bool) int32 {
	for range 3 {
		if m := p.draw(pl); !p.excluded(pl, m, exclude) {
			return m
		}
	}
	return p.scan(pl, p.b.cfg.Rand(), exclude)
}

// pickTwo is power-of-two-choices (Mitzenmacher, "The Power of Two Choices
// in Randomized Load Balancing", 2001): draw two distinct members in
// proportion to weight and keep the less loaded; on a tie the first drawn,
// so that an idle pool is picked exactly in proportion to weight.
func (p *picker) pickTwo(pl *pool, exclude func(string) bool, now uint32) int {
	a := p.drawAllowed(pl, exclude)
	if a < 0 {
		return -1
	}
	if len(pl.members) == 1 {
		return int(pl.members[a])
	}
	b := int32(-1)
	for range 3 {
		if m := p.draw(pl); m != a && !p.excluded(pl, m, exclude) {
			b = m
			break
		}
	}
	if b < 0 {
		// The draws kept hitting a (a heavy weight) or excluded members:
		// take the next allowed member after a, so that a is still compared
		// with someone rather than chosen unopposed.
		b = p.scanOther(pl, a, exclude)
		if b < 0 {
			return int(pl.members[a])
		}
	}
	ea, eb := &p.entries[pl.members[a]], &p.entries[pl.members[b]]
	if p.policy == LeastRequest {
		// Fewer in-flight requests per unit of weight, compared without
		// division: ia/wa > ib/wb ⇔ ia×wb > ib×wa. Envoy's least_request
		// weighs by weight/(in-flight+1); comparing in-flight/weight keeps
		// an idle pool exactly proportional to weight.
		ia, ib := ea.stats.inflight.Load(), eb.stats.inflight.Load()
		if ia*int64(eb.weight) > ib*int64(ea.weight) {
			return int(pl.members[b])
		}
		return int(pl.members[a])
	}
	// Peak-EWMA cost as in Finagle: latency × (in-flight + 1).
	tau := p.b.tau
	ca := ea.stats.latency(now, tau) * float64(ea.stats.inflight.Load()+1)
	cb := eb.stats.latency(now, tau) * float64(eb.stats.inflight.Load()+1)
	if cb < ca {
		return int(pl.members[b])
	}
	return int(pl.members[a])
}

// scanOther returns the first member after a (cyclically) other than a that
// exclude does not reject, or -1.
func (p *picker) scanOther(pl *pool, a int32, exclude func(string) bool) int32 {
	n := int32(len(pl.members))
	for k := int32(1); k < n; k++ {
		if m := (a + k) % n; !p.excluded(pl, m, exclude) {
			return m
		}
	}
	return -1
}
