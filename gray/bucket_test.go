package gray_test

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/gray"
	"github.com/duohuo/duohuo/internal/testexec"
)

// referenceBucket is the documented algorithm written a second way, with
// the standard library's FNV, so that Bucket cannot drift from its doc.
func referenceBucket(salt, id string) uint32 {
	h := fnv.New64a()
	h.Write([]byte(salt))
	h.Write([]byte{0})
	h.Write([]byte(id))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return uint32(x % 10000)
}

func TestBucketFollowsTheDocumentedAlgorithm(t *testing.T) {
	for i := range 20000 {
		salt, id := "", fmt.Sprintf("user-%d", i)
		if i%3 == 0 {
			salt = "exp-" + strconv.Itoa(i%7)
		}
		if got, want := gray.Bucket(salt, id), referenceBucket(salt, id); got != want {
			t.Fatalf("Bucket(%q, %q) = %d, want %d", salt, id, got, want)
		}
	}
}

// TestBucketGolden pins the buckets of a few ids forever: changing them
// would move users between versions on the next upgrade.
func TestBucketGolden(t *testing.T) {
	tests := []struct {
		salt, id string
		want     uint32
	}{
		{"", "", 2267},
		{"", "alice", 8690},
		{"", "bob", 1576},
		{"checkout-v2", "alice", 9492},
		{"", "10086", 72},
		{"release-42", "user-0", 4093},
	}
	for _, tt := range tests {
		if got := gray.Bucket(tt.salt, tt.id); got != tt.want {
			t.Errorf("Bucket(%q, %q) = %d, want %d (the bucket function must never change)", tt.salt, tt.id, got, tt.want)
		}
	}
}

func TestBucketSeparatesSaltFromID(t *testing.T) {
	if gray.Bucket("ab", "c") == gray.Bucket("a", "bc") && gray.Bucket("ab", "cd") == gray.Bucket("a", "bcd") {
		t.Errorf("Bucket does not separate salt from id")
	}
}

// grayUsers returns the ids i of users user-0 … user-(n-1) that r routes
// to the subset v2.
func grayUsers(t testing.TB, r *gray.Router, n int) map[int]bool {
	t.Helper()
	in := map[int]bool{}
	for i := range n {
		v, err := gray.Probe{Headers: map[string]string{"x-user-id": "user-" + strconv.Itoa(i)}}.View()
		if err != nil {
			t.Fatal(err)
		}
		if r.Route(v, "").Subset == "v2" {
			in[i] = true
		}
	}
	return in
}

func hashPolicy(percent float64) gray.Policy {
	return gray.Policy{
		Subsets: twoSubsets,
		Salt:    "release-42",
		Rules:   []gray.Rule{{Subset: "v2", UserHash: &gray.UserHash{Header: "x-user-id", Percent: percent}}},
	}
}

// TestUserHashSplitMatchesPercentage checks over 100k ids that the share
// routed to the canary is the configured one, within 4.5 standard
// deviations of a binomial draw (the ids are fixed, so the test is
// deterministic; the bound says the hash is not biased).
func TestUserHashSplitMatchesPercentage(t *testing.T) {
	const n = 100_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "user-" + strconv.Itoa(i)
	}
	for _, pct := range []float64{0.01, 0.5, 1, 5, 12.34, 33.33, 50, 99.99, 100} {
		t.Run(strconv.FormatFloat(pct, 'f', -1, 64)+"%", func(t *testing.T) {
			r := mustCompile(t, hashPolicy(pct))
			hits := 0
			for _, id := range ids {
				v, err := gray.Probe{Headers: map[string]string{"x-user-id": id}}.View()
				if err != nil {
					t.Fatal(err)
				}
				if r.Route(v, "").Subset == "v2" {
					hits++
				}
			}
			p := pct / 100
			want := p * n
			tol := 4.5 * math.Sqrt(n*p*(1-p))
			if math.Abs(float64(hits)-want) > tol+0.5 {
				t.Errorf("%v%% of %d users: %d routed to v2, want %.0f ± %.0f", pct, n, hits, want, tol)
			}
		})
	}
}

// TestUserHashIsMonotonic: raising the percentage only adds users, so no
// one flips back to the baseline (the drift Flagger #1532 describes).
func TestUserHashIsMonotonic(t *testing.T) {
	const n = 20_000
	prev := map[int]bool{}
	for _, pct := range []float64{0, 1, 5, 5.01, 20, 50, 100} {
		cur := grayUsers(t, mustCompile(t, hashPolicy(pct)), n)
		for i := range prev {
			if !cur[i] {
				t.Fatalf("user-%d is in the canary at a lower percentage but not at %v%%", i, pct)
			}
		}
		prev = cur
	}
	if len(prev) != n {
		t.Errorf("at 100%% %d of %d users in the canary, want all", len(prev), n)
	}
}

// TestUserHashIsStableAcrossGateways: two routers compiled independently
// (two gateway instances) put every user in the same subset.
func TestUserHashIsStableAcrossGateways(t *testing.T) {
	a := grayUsers(t, mustCompile(t, hashPolicy(5)), 10_000)
	b := grayUsers(t, mustCompile(t, hashPolicy(5)), 10_000)
	if len(a) != len(b) {
		t.Fatalf("gateway A sends %d users to v2, gateway B %d", len(a), len(b))
	}
	for i := range a {
		if !b[i] {
			t.Fatalf("user-%d: gateway A sends to v2, gateway B does not", i)
		}
	}
}

// TestUserHashIsStableAcrossRestarts runs the test binary again (a new
// process: new heap, new map seeds, new maphash seed) and compares the
// subsets it chooses with this process's.
func TestUserHashIsStableAcrossRestarts(t *testing.T) {
	const n = 5000
	here := grayUsers(t, mustCompile(t, hashPolicy(5)), n)
	cmd := testexec.Command(os.Args[0]) // TestMain sees the variable and prints instead of testing
	cmd.Env = append(os.Environ(), "GRAY_BUCKET_CHILD=1", "GRAY_BUCKET_N="+strconv.Itoa(n))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child process: %v", err)
	}
	there := map[int]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "in "); ok {
			i, _ := strconv.Atoi(s)
			there[i] = true
		}
	}
	if len(there) == 0 || len(there) != len(here) {
		t.Fatalf("child process sends %d users to v2, this process %d", len(there), len(here))
	}
	for i := range here {
		if !there[i] {
			t.Fatalf("user-%d: in v2 here, not after a restart", i)
		}
	}
}
