package static_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/static"
)

var cmpAddr = cmp.Comparer(func(x, y netip.AddrPort) bool { return x == y })

var parseOK = []struct {
	name    string
	service string // the one service asked for; "" for all
	in      string
	want    map[string][]discovery.Instance
}{
	{
		name: "a full entry sets every field",
		in: `services:
  api:
    - addr: 10.0.0.1:8080
      weight: 7
      cloud: ctyun
      region: cn-north-1
      zone: cn-north-1a
      labels: {version: v2, lane: gray}
      metadata: {owner: team-a}
      id: api-1
`,
		want: map[string][]discovery.Instance{"api": {{
			ID: "api-1", Addr: netip.MustParseAddrPort("10.0.0.1:8080"), Weight: 7,
			Locality: discovery.Locality{Cloud: "ctyun", Region: "cn-north-1", Zone: "cn-north-1a"},
			Labels:   map[string]string{"version": "v2", "lane": "gray"},
			Metadata: map[string]string{"owner": "team-a"},
		}}},
	},
	{
		name: "a missing weight is the default weight, and weight 0 drains",
		in:   "services:\n  api:\n    - addr: 10.0.0.1:80\n    - addr: 10.0.0.2:80\n      weight: 0\n",
		want: map[string][]discovery.Instance{"api": {
			{Addr: netip.MustParseAddrPort("10.0.0.1:80"), Weight: discovery.DefaultWeight},
			{Addr: netip.MustParseAddrPort("10.0.0.2:80"), Weight: 0},
		}},
	},
	{
		name: "JSON is accepted",
		in:   `{"services": {"api": [{"addr": "[2001:db8::1]:443", "weight": 3}]}}`,
		want: map[string][]discovery.Instance{"api": {{Addr: netip.MustParseAddrPort("[2001:db8::1]:443"), Weight: 3}}},
	},
	{
		name: "services: {} removes every service on purpose",
		in:   "services: {}\n",
		want: map[string][]discovery.Instance{},
	},
	{
		name: "a service with an empty list has no instances",
		in:   "services:\n  api: []\n",
		want: map[string][]discovery.Instance{"api": {}},
	},
	{
		name: "a service name with dots is one name",
		in:   "# comment\nservices:\n  user.v1:\n    - addr: 10.0.0.1:80\n",
		want: map[string][]discovery.Instance{"user.v1": {{Addr: netip.MustParseAddrPort("10.0.0.1:80"), Weight: 100}}},
	},
	{
		name:    "an instances list is the named service's",
		service: "api",
		in:      "instances:\n  - addr: 10.0.0.1:80\n    zone: a\n",
		want:    map[string][]discovery.Instance{"api": {{Addr: netip.MustParseAddrPort("10.0.0.1:80"), Weight: 100, Locality: discovery.Locality{Zone: "a"}}}},
	},
	{
		name:    "an empty instances list gives the named service no instances",
		service: "api",
		in:      "instances: []\n",
		want:    map[string][]discovery.Instance{"api": {}},
	},
	{
		name:    "with a service, only it is taken from a services map",
		service: "api",
		in:      "services:\n  api:\n    - addr: 10.0.0.1:80\n  web:\n    - addr: 10.0.0.2:80\n",
		want:    map[string][]discovery.Instance{"api": {{Addr: netip.MustParseAddrPort("10.0.0.1:80"), Weight: 100}}},
	},
}

func TestParseAccepts(t *testing.T) {
	for _, tt := range parseOK {
		t.Run(tt.name, func(t *testing.T) {
			got, err := static.Parse("i.yaml", []byte(tt.in), tt.service)
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddr); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

var parseBad = []struct {
	name      string
	in        string
	want      error
	line, col int
	service   string // the one service asked for; "" for all
}{
	{"an empty file is refused", "", static.ErrEmpty, 1, 1, ""},
	{"a file of comments only is refused", "# nothing\n", static.ErrEmpty, 1, 1, ""},
	{"a file with neither services nor instances is refused", "hosts: {}\n", static.ErrSyntax, 1, 1, ""},
	{"a tab-broken YAML is refused at the fault", "services:\n  api:\n    - addr: [10.0.0.1:80\n", static.ErrSyntax, 3, 13, ""},
	{"an unknown field is refused at the field", "services:\n  api:\n    - addr: 10.0.0.1:80\n      wieght: 3\n", static.ErrSyntax, 4, 7, ""},
	{"a weight of the wrong type is refused at the value", "services:\n  api:\n    - addr: 10.0.0.1:80\n      weight: heavy\n", static.ErrSyntax, 4, 15, ""},
	{"a host name instead of an IP is refused at addr", "services:\n  api:\n    - addr: api.local:80\n", discovery.ErrInvalidAddr, 3, 13, ""},
	{"a missing addr is refused at the entry", "services:\n  api:\n    - weight: 3\n", discovery.ErrInvalidAddr, 3, 7, ""},
	{"port 0 is refused at addr", "services:\n  api:\n    - addr: 10.0.0.1:0\n", discovery.ErrInvalidAddr, 3, 13, ""},
	{"a negative weight is refused at weight", "services:\n  api:\n    - addr: 10.0.0.1:80\n      weight: -1\n", discovery.ErrInvalidWeight, 4, 15, ""},
	{"a weight above 65535 is refused at weight", "services:\n  api:\n    - addr: 10.0.0.1:80\n      weight: 65536\n", discovery.ErrInvalidWeight, 4, 15, ""},
	{"an address listed twice is refused at the second", "services:\n  api:\n    - addr: 10.0.0.1:80\n    - addr: 10.0.0.1:80\n", discovery.ErrDuplicate, 4, 13, ""},
	{"an id listed twice is refused at the second", "services:\n  api:\n    - {addr: 10.0.0.1:80, id: a}\n    - {addr: 10.0.0.2:80, id: a}\n", discovery.ErrDuplicate, 4, 31, ""},
	{"a bad service name is refused", "services:\n  a b:\n    - addr: 10.0.0.1:80\n", discovery.ErrInvalidService, 3, 5, ""},
	{"a zone with a slash is refused at the entry", "services:\n  api:\n    - addr: 10.0.0.1:80\n      zone: a/b\n", discovery.ErrInvalidField, 3, 7, ""},
	{"two documents are refused", "services: {}\n---\nservices: {}\n", static.ErrSyntax, 3, 1, ""},
	{"input that panics inside go-yaml is refused, not a crash", "services:\n 0:\n    ! 0000000000000000000000", static.ErrSyntax, 1, 1, ""},
	{"an instances list without a service name is refused", "instances:\n  - addr: 10.0.0.1:80\n", static.ErrSyntax, 2, 3, ""},
	{"both services and instances are refused", "services: {}\ninstances: []\n", static.ErrSyntax, 1, 1, "api"},
	{"a bad instance in an instances list is refused at it", "instances:\n  - addr: 10.0.0.1:80\n  - addr: 10.0.0.1:0\n", discovery.ErrInvalidAddr, 3, 11, "api"},
	{"a services map without the named service is refused", "services:\n  web: []\n", discovery.ErrInvalidService, 2, 3, "api"},
	{"a bad entry in another service still refuses the file", "services:\n  api: []\n  web:\n    - addr: x\n", discovery.ErrInvalidAddr, 4, 13, "api"},
	{"the first fault in file order is reported", "services:\n  b:\n    - addr: x\n  a:\n    - addr: y\n", discovery.ErrInvalidAddr, 3, 13, ""},
}

func TestParseRefuses(t *testing.T) {
	for _, tt := range parseBad {
		t.Run(tt.name, func(t *testing.T) {
			got, err := static.Parse("i.yaml", []byte(tt.in), tt.service)
			var pe *static.ParseError
			if !errors.As(err, &pe) || !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%q) = %v, %v; want a *ParseError wrapping %v", tt.in, got, err, tt.want)
			}
			if pe.File != "i.yaml" || pe.Line != tt.line || pe.Col != tt.col {
				t.Errorf("Parse(%q) error at %s:%d:%d, want i.yaml:%d:%d (%v)", tt.in, pe.File, pe.Line, pe.Col, tt.line, tt.col, err)
			}
		})
	}
}

// splitInputs are instances files whose reading in pieces must give what
// reading them whole does: the instances, or the same refusal at the same
// place.
var splitInputs = []string{
	"instances:\n  - {addr: 10.0.0.1:80}\n  - {addr: 10.0.0.2:80, weight: 0, id: b}\n  - addr: 10.0.0.3:80\n    cloud: c\n    region: r\n    zone: z\n    labels: {version: v2, lane: gray}\n    metadata:\n      owner: team-a\n",
	"# head\ninstances:\n# first\n- addr: 10.0.0.1:80\n\n- addr: 10.0.0.2:80 # second\n- {addr: \"10.0.0.3:80\", weight: 0x10}\n",
	"instances:\n  - {addr: 10.0.0.1:80, labels: {n: 1, b: true}}\n  - {addr: 10.0.0.2:80, labels: {}}\n  - {addr: 10.0.0.3:80, weight: 65535}\n",
	"instances:\n  - &a {addr: 10.0.0.1:80}\n  - {addr: 10.0.0.2:80, labels: &l {v: 1}}\n  - {addr: 10.0.0.3:80, labels: *l}\n",
	"instances:\n  - {addr: 10.0.0.1:80}\n  - {addr: 10.0.0.1:80}\n  - {addr: 10.0.0.3:80}\n",
	"instances:\n  - {addr: 10.0.0.1:80, id: x}\n  - {addr: 10.0.0.2:80, id: x}\n  - {addr: 10.0.0.3:80}\n",
	"instances:\n  - {addr: 10.0.0.1:80}\n  - {addr: 10.0.0.2:80, wieght: 3}\n  - {addr: 10.0.0.3:80}\n",
	"instances:\n  - {addr: 10.0.0.1:80}\n  - {addr: 10.0.0.2:80, weight: 70000}\n  - {addr: 10.0.0.3:80, weight: -1}\n",
	"instances:\n  - {addr: 10.0.0.1:80}\n  - {addr: \"10.0.0.2:80\n  - 10.0.0.3:80\"}\n  - {addr: 10.0.0.4:80}\n",
	"instances:\n  - {addr: 10.0.0.1:80}\n  - {addr: 10.0.0.2:80}\nservices: {}\n",
	"instances:\n  - {addr: 10.0.0.1:80}\n  - {addr: 10.0.0.2:80}\n---\ninstances: []\n",
	"instances:\n  - {addr: 10.0.0.1:80, zone: a/b}\n  - {addr: 10.0.0.2:80}\n",
	"instances:\n  - addr: 10.0.0.1:80\n    addr: 10.0.0.5:80\n  - {addr: 10.0.0.2:80}\n",
}

// checkSplitAsWhole compares reading data in pieces with reading it whole:
// the instances, and the refusal (exactly when exact: go-yaml's decoder
// reports one of several unknown fields at random).
func checkSplitAsWhole(t *testing.T, data []byte, service string, exact bool) {
	t.Helper()
	want, wantErr := static.ParseWhole("i.yaml", data, service)
	for _, run := range []int{1, 2} {
		got, err := static.ParseSplit("i.yaml", data, service, run)
		if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
			t.Errorf("ParseSplit(%q, runs of %d) (-whole +split):\n%s", data, run, diff)
		}
		if (err == nil) != (wantErr == nil) || exact && err != nil && err.Error() != wantErr.Error() {
			t.Errorf("ParseSplit(%q, runs of %d) = %v; whole: %v", data, run, err, wantErr)
		}
	}
}

// TestParseInPiecesAsWhole: a large "instances" file is read run by run
// (internal/yamlsplit), and that gives what reading it whole does.
func TestParseInPiecesAsWhole(t *testing.T) {
	for _, in := range splitInputs {
		checkSplitAsWhole(t, []byte(in), "api", true)
	}
	for _, tt := range parseOK {
		checkSplitAsWhole(t, []byte(tt.in), "api", true)
	}
	for _, tt := range parseBad {
		checkSplitAsWhole(t, []byte(tt.in), "api", true)
	}
	big := bigInstances(3000)
	got, err := static.Parse("i.yaml", big, "api")
	if err != nil || len(got["api"]) != 3000 {
		t.Fatalf("Parse(3000 instances) = %d instances, %v", len(got["api"]), err)
	}
	checkSplitAsWhole(t, big, "api", true)
}
