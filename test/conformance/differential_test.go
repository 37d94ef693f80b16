package conformance

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// minCases is the least number of exchanges the differential suite sends.
const minCases = 80

// TestDifferential sends every case, byte for byte, to go-httpbin
// directly and through the gateway, and compares the answers: each
// difference is either a documented proxy behaviour (the case's differs,
// asserted by its check) or a failure. Every engine runs the same cases.
func TestDifferential(t *testing.T) {
	t.Parallel() // beside TestH2spec, which mostly waits
	if n := len(cases()); n < minCases {
		t.Fatalf("%d cases, want at least %d", n, minCases)
	}
	up := startUpstream(t)
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			gw := startGateway(t, engine, up.addr(), gatewayOptions{})[0]
			var (
				mu        sync.Mutex
				identical int
				failed    []string
				differ    []string
			)
			t.Run("cases", func(t *testing.T) {
				for _, c := range cases() {
					t.Run(c.name, func(t *testing.T) {
						t.Parallel()
						id := engine + "/" + c.name
						// Both at once: several cases wait for a close.
						var direct, through *exchange
						var wg sync.WaitGroup
						wg.Go(func() { direct = run(up.addr(), &c, id) })
						through = run(gw, &c, id)
						wg.Wait()
						diff := cmp.Diff(normalise(direct), normalise(through))
						mu.Lock()
						if diff == "" {
							identical++
						} else {
							differ = append(differ, c.name)
						}
						mu.Unlock()
						t.Cleanup(func() {
							if t.Failed() {
								mu.Lock()
								failed = append(failed, c.name)
								mu.Unlock()
							}
						})
						if c.differs == "" {
							if through.Err != nil {
								t.Errorf("through the gateway: %v", through.Err)
							}
							if diff != "" {
								t.Errorf("direct and through the gateway differ (-direct +gateway):\n%s", diff)
							}
							if !c.local {
								forwardedCarryVia(t, through)
							}
						}
						if c.check != nil {
							c.check(t, through, up.through(id))
						}
					})
				}
			})
			slices.Sort(failed)
			slices.Sort(differ)
			t.Logf("engine %s: %d of %d exchanges identical directly and through the gateway (differ: %s); %d cases fail: %s",
				engine, identical, len(cases()), strings.Join(differ, "; "), len(failed), strings.Join(failed, "; "))
		})
	}
}

// forwardedCarryVia asserts that every response the gateway forwarded
// names it in Via (RFC 9110, section 7.6.3), a 101 included.
func forwardedCarryVia(t *testing.T, x *exchange) {
	t.Helper()
	for i, r := range x.Responses {
		if !slices.ContainsFunc(r.Header.Values("Via"), func(v string) bool { return strings.Contains(v, "duohuo") }) {
			t.Errorf("response %d (%d) has Via %q, want the gateway's hop", i+1, r.Status, r.Header.Values("Via"))
		}
	}
}
