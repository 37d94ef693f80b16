package fault_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/duohuo/duohuo/fault"
)

var parseSpecTests = []struct {
	name string
	in   string
	want fault.Spec
}{
	{"delay alone applies to every request", "delay=200ms",
		fault.Spec{Delay: &fault.Delay{Duration: 200 * time.Millisecond, Percent: 100}}},
	{"delay with a percentage", "delay=1.5s@12.5%",
		fault.Spec{Delay: &fault.Delay{Duration: 1500 * time.Millisecond, Percent: 12.5}}},
	{"percent sign is optional", "delay=1s@10",
		fault.Spec{Delay: &fault.Delay{Duration: time.Second, Percent: 10}}},
	{"abort with status", "abort=503@5%",
		fault.Spec{Abort: &fault.Abort{Status: 503, Percent: 5}}},
	{"abort by reset", "abort=reset@1%",
		fault.Spec{Abort: &fault.Abort{Reset: true, Percent: 1}}},
	{"delay and abort with header trigger, any order, spaces allowed", " header , abort=429, delay=50ms@50% ",
		fault.Spec{
			Delay:         &fault.Delay{Duration: 50 * time.Millisecond, Percent: 50},
			Abort:         &fault.Abort{Status: 429, Percent: 100},
			HeaderTrigger: true,
		}},
}

func TestParseSpecAcceptsCompactForm(t *testing.T) {
	for _, tt := range parseSpecTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fault.ParseSpec(tt.in)
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseSpec(%q) (-want +got):\n%s", tt.in, diff)
			}
			again, err := fault.ParseSpec(got.String())
			if err != nil || !cmp.Equal(got, again) {
				t.Errorf("ParseSpec(String()=%q) = %+v, %v; want %+v", got.String(), again, err, got)
			}
		})
	}
}

var badSpecTests = []struct {
	name   string
	in     string
	offset int
}{
	{"empty input", "", 0},
	{"only header, no fault", "header", 0},
	{"unknown item", "delay=1s,slow=1s", 9},
	{"empty item between commas", "delay=1s,,abort=503", 9},
	{"delay without value", "delay=", 0},
	{"delay that is not a duration", "abort=503, delay=soon", 11},
	{"negative delay", "delay=-1s", 0},
	{"zero delay", "delay=0s", 0},
	{"delay above the maximum", "delay=2h", 0},
	{"percent above 100", "delay=1s@101%", 0},
	{"percent zero", "abort=503@0%", 0},
	{"percent not a number", "abort=503@many", 0},
	{"status below 200", "abort=199", 0},
	{"status 600", "abort=600", 0},
	{"abort that is neither status nor reset", "abort=boom", 0},
	{"delay twice", "delay=1s,delay=2s", 9},
	{"abort twice", "abort=503,abort=reset", 10},
	{"header twice", "delay=1s,header,header", 16},
	{"header with a value", "delay=1s,header=yes", 9},
}

func TestParseSpecRejectsWithPosition(t *testing.T) {
	for _, tt := range badSpecTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fault.ParseSpec(tt.in)
			var se *fault.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("ParseSpec(%q) = %v, want a *SpecError", tt.in, err)
			}
			if !errors.Is(err, fault.ErrInvalidSpec) {
				t.Errorf("ParseSpec(%q) = %v, want it to wrap ErrInvalidSpec", tt.in, err)
			}
			if se.Offset != tt.offset {
				t.Errorf("ParseSpec(%q) offset = %d (%v), want %d", tt.in, se.Offset, err, tt.offset)
			}
		})
	}
}

func TestSpecJSONAcceptsObjectOrCompactString(t *testing.T) {
	want := fault.Spec{
		Delay: &fault.Delay{Duration: 200 * time.Millisecond, Percent: 10},
		Abort: &fault.Abort{Status: 503, Percent: 100},
	}
	for _, in := range []string{
		`"delay=200ms@10%,abort=503"`,
		`{"delay": {"duration": "200ms", "percent": 10}, "abort": {"status": 503}}`,
	} {
		var got fault.Spec
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Fatalf("Unmarshal(%s): %v", in, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Unmarshal(%s) (-want +got):\n%s", in, diff)
		}
	}
	out, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var back fault.Spec
	if err := json.Unmarshal(out, &back); err != nil || !cmp.Equal(want, back) {
		t.Errorf("round trip through %s = %+v, %v", out, back, err)
	}
}

func TestSpecJSONRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"unknown field", `{"delay": {"duration": "1s"}, "color": "red"}`},
		{"unknown field in delay", `{"delay": {"duration": "1s", "jitter": "1s"}}`},
		{"duration as a number", `{"delay": {"duration": 200}}`},
		{"duration that does not parse", `{"delay": {"duration": "soon"}}`},
		{"explicit zero percent", `{"abort": {"status": 503, "percent": 0}}`},
		{"status and reset together", `{"abort": {"status": 503, "reset": true}}`},
		{"neither delay nor abort", `{"header_trigger": true}`},
		{"bad compact string", `"delay=forever"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s fault.Spec
			if err := json.Unmarshal([]byte(tt.in), &s); !errors.Is(err, fault.ErrInvalidSpec) {
				t.Errorf("Unmarshal(%s) = %v, want ErrInvalidSpec", tt.in, err)
			}
		})
	}
}

func TestParseTableNamesTheBadRule(t *testing.T) {
	tests := []struct {
		name, in, wantIn string
	}{
		{"duplicate names", `{"rules": [{"name": "a", "spec": "delay=1s"}, {"name": "a", "spec": "delay=2s"}]}`, `rules[1] "a"`},
		{"bad name", `{"rules": [{"name": "a b", "spec": "delay=1s"}]}`, `rules[0]`},
		{"path prefix without slash", `{"rules": [{"name": "p", "path_prefix": "api", "spec": "delay=1s"}]}`, `rule "p"`},
		{"host with port", `{"rules": [{"name": "h", "host": "a.com:80", "spec": "delay=1s"}]}`, `rule "h"`},
		{"lower-case method", `{"rules": [{"name": "m", "methods": ["get"], "spec": "delay=1s"}]}`, `rule "m"`},
		{"negative max_active", `{"max_active": -1, "rules": []}`, `max_active`},
		{"bad spec", `{"rules": [{"name": "s", "spec": "delay=1s@200%"}]}`, `percent`},
		{"trailing data", `{"rules": []} {}`, `trailing`},
		{"a stray bracket after the table", `{"rules": []}]`, `trailing`},
		{"null is not an empty table", `null`, `want a JSON object`},
		{"an array is not a table", `[]`, `want a JSON object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fault.ParseTable([]byte(tt.in))
			if !errors.Is(err, fault.ErrInvalidSpec) {
				t.Fatalf("ParseTable(%s) = %v, want ErrInvalidSpec", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("ParseTable(%s) = %q, want it to mention %q", tt.in, err, tt.wantIn)
			}
		})
	}
}
