package balancer_test

import (
	"errors"
	"testing"
	"time"

	"github.com/duohuo/duohuo/balancer"
)

// FuzzUpdatePick decodes an endpoint set, a config and a stream of picks
// from the input and checks that Update and Pick never panic and keep the
// invariants of checkPick.
//
// Layout: byte 0 policy, byte 1 overprovisioning factor (1 + b/64), byte 2
// panic threshold (b/200, above 1 meaning off); then 3 bytes per endpoint
// (tier and health and drain flags, configured weight, dynamic weight) up
// to a zero byte; the rest are picks, each byte an exclude mask over the
// low 8 endpoint numbers.
func FuzzUpdatePick(f *testing.F) {
	// Seeds from the table tests: healthy tiers, a half-down local tier,
	// total panic, drained instances, heavy weights.
	f.Add([]byte{0, 26, 100, 0x10, 100, 0, 0x11, 100, 0, 0x12, 100, 0, 0, 0, 1, 2, 0xff})
	f.Add([]byte{1, 26, 100, 0x10, 100, 0, 0x00, 100, 0, 0x11, 100, 0, 0x11, 100, 0, 0, 0, 0, 0x3})
	f.Add([]byte{2, 26, 100, 0x00, 100, 0, 0x01, 100, 0, 0x02, 100, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 255, 0x20, 0, 5, 0x10, 255, 255, 0x13, 1, 0, 0, 7, 0})
	f.Add([]byte{1, 64, 40, 0x10, 250, 1, 0x10, 1, 0, 0x10, 1, 0, 0x10, 1, 0, 0, 0, 1, 2, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		cfg := balancer.Config{
			Local:                  local,
			Policy:                 balancer.Policy(data[0] % 3),
			OverprovisioningFactor: 1 + float64(data[1])/64,
			PanicThreshold:         float64(data[2]) / 200,
			Rand:                   seeded(uint64(len(data))),
			Now:                    new(manualClock).Now,
		}
		if cfg.PanicThreshold > 1 {
			cfg.PanicThreshold = -1
		}
		data = data[3:]
		var eps []balancer.Endpoint
		for len(data) >= 3 && data[0] != 0 && len(eps) < 64 {
			flags := data[0]
			ep := endpoint(len(eps), tierLocs[flags&3], flags&0x10 != 0, uint32(data[1]))
			if flags&0x20 != 0 {
				ep.Instance.Weight = 0 // drained
			}
			ep.Weight = uint32(data[2]) * 1000
			eps = append(eps, ep)
			data = data[3:]
		}
		if len(data) > 0 {
			data = data[1:]
		}
		b, err := balancer.New(cfg)
		if err != nil {
			t.Fatalf("New(%+v): %v", cfg, err)
		}
		if err := b.Update(eps); err != nil {
			t.Fatalf("Update: %v", err)
		}
		st, m := b.State(), byID(eps)
		var sum float64
		for _, ts := range st.Tiers {
			if ts.Load < 0 || ts.Load > 1 || ts.Health < 0 || ts.Health > 1 {
				t.Fatalf("State has a load or health outside [0, 1]: %+v", st)
			}
			sum += ts.Load
		}
		if _, serving := st.Serving(); serving && (sum < 1-1e-9 || sum > 1+1e-9) {
			t.Fatalf("tier loads add up to %v, want 1: %+v", sum, st)
		}
		for _, mask := range data {
			exclude := func(id string) bool {
				for i := range 8 {
					if mask>>i&1 == 1 && id == endpoint(i, local, true, 0).Instance.ID {
						return true
					}
				}
				return false
			}
			p, err := b.Pick(nil, exclude)
			if err != nil && !errors.Is(err, balancer.ErrNoInstance) {
				t.Fatalf("Pick: %v", err)
			}
			checkPick(t, m, st, local, exclude, p, err)
			p.Done(time.Millisecond, balancer.Result(mask%3))
		}
	})
}

// FuzzParsePolicy checks that ParsePolicy never panics, refuses with
// ErrInvalidConfig, and that what it accepts round-trips through String
// (the alias p2c_ewma prints as its policy's name).
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{"", "peak_ewma", "p2c_ewma", "round_robin", "least_request", "Round_Robin", "random", "peak_ewma\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := balancer.ParsePolicy(s)
		if err != nil {
			if !errors.Is(err, balancer.ErrInvalidConfig) {
				t.Fatalf("ParsePolicy(%q) error %v does not wrap ErrInvalidConfig", s, err)
			}
			return
		}
		if s != "" && s != "p2c_ewma" && p.String() != s {
			t.Fatalf("ParsePolicy(%q) = %v, which prints as %q", s, p, p.String())
		}
		if err := (balancer.Config{Policy: p}).Validate(); err != nil {
			t.Fatalf("ParsePolicy(%q) = %v, which Validate refuses: %v", s, p, err)
		}
	})
}
