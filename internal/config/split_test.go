package config

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Splitting every file, into runs of one or two items, so that the small
// inputs of the tests take the path of large files.
var (
	whole     = splitting{minSize: math.MaxInt}
	splitEach = splitting{minSize: 0, runItems: 1}
	splitTwo  = splitting{minSize: 0, runItems: 2}
)

// splitCases are files whose pieces must decode to what the whole file
// does, errors and their places included.
var splitCases = []struct{ name, yaml string }{
	{"valid routes and services", "services:\n  - name: a\n    discovery: [{dns: {name: a.internal}}]\n  - name: b\n    discovery: [{dns: {name: b.internal}}]\n  - name: c\n    discovery: [{dns: {name: c.internal}}]\nroutes:\n  - {name: r1, service: a, match: {path_prefix: /1}}\n  - {name: r2, service: b, match: {path_prefix: /2}}\n  - {name: r3, service: c, match: {path_prefix: /3}}\n"},
	{"items at column 0 and comments between them", "# head\nroutes:\n# before\n- name: r1\n  service: a\n  # inside\n- name: r2\n  service: a\n\n- name: r3\n  service: a\n# after\nservices:\n- name: a\n  discovery: [{dns: {name: a.internal}}]\n"},
	{"errors inside items point into them", "services:\n  - name: a\n    discovery: [{dns: {name: a.internal, type: srv, port: 80}}]\n  - name: b\n    discovery: []\n  - name: c\n    discovery: [{dns: {name: c.internal}}]\n    upstream: {protocol: h2}\nroutes:\n  - {name: r1, service: a, timeout: 1s, max_duration: 500ms}\n  - {name: r1, service: nope}\n  - {name: '', service: a, match: {path_prefix: x}}\n  - {service: a, retry: {attempts: 99, backoff: {base: 1s}}}\n  - {name: r5, service: a, bogus: 1}\n"},
	{"duplicate list keys", "routes:\n  - {name: r1, service: a}\n  - {name: r2, service: a}\n  - {name: r3, service: a}\nroutes:\n  - {name: r4, service: a}\n  - {name: r5, service: a}\n  - {name: r6, service: a}\n"},
	{"anchors in one run, aliases in later ones", "services:\n  - name: a\n    discovery: &d [{dns: {name: a.internal}}]\n    upstream: &u {dial_timeout: 2s}\n  - name: b\n    discovery: *d\n    upstream:\n      <<: *u\n      tls: true\n  - name: c\n    discovery: *d\n    upstream: *nope\n"},
	{"extension key with anchors", "x-svc: &svc\n  discovery: [{dns: {name: a.internal}}]\nservices:\n  - <<: *svc\n    name: a\n  - <<: *svc\n    name: b\n  - <<: *svc\n    name: c\n"},
	{"a quoted string across a cut", "routes:\n  - name: \"r1\n  - r2\"\n    service: a\n  - {name: r3, service: a}\n  - {name: r4, service: a}\n"},
	{"a flow list across a cut", "routes: [\n  {name: r1, service: a},\n  {name: r2, service: a}]\n"},
	{"a syntax error in an item", "routes:\n  - {name: r1, service: a}\n  - {name: r2, service: a\n  - {name: r3, service: a}\n  - {name: r4, service: a}\n"},
	{"a tab in an item", "routes:\n  - name: r1\n  - name: r2\n\t service: a\n  - name: r3\n"},
	{"a block scalar in items", "routes:\n  - name: r1\n    service: a\n    fallback:\n      static:\n        body: |\n          down\n          - not an item\n  - name: r2\n    service: a\n  - name: r3\n    service: a\n"},
	{"windows line ends", "routes:\r\n  - {name: r1, service: a}\r\n  - {name: r2, service: a}\r\n  - {name: r3, service: a}\r\n"},
	{"a list that is not a list of sections", "listeners: 3\nroutes:\n  - 1\n  - 2\n  - 3\n"},
	{"an unknown key with items", "rutes:\n  - {name: r1}\n  - {name: r2}\n  - {name: r3}\n"},
	{"two documents", "routes:\n  - {name: r1, service: a}\n  - {name: r2, service: a}\n---\nroutes: []\n"},
	{"a key after a list at the same indentation", "routes:\n  - {name: r1, service: a}\n  - {name: r2, service: a}\n  - {name: r3, service: a}\nsite: {cloud: c}\n"},
	{"values continued at column 0", "site:\n  cloud: c\nadmin: {listen: 127.0.0.1:1}\nroutes:\n  - name: a\nb\n  - name: c\n"},
	{"aliases expanding past the bound", "x-m: &m [" + strings.Repeat("GET, ", 199) + "GET]\nroutes:\n" + strings.Repeat("  - {name: r, service: s, match: {methods: *m}}\n", 600)},
}

func parseSplit(data []byte, sp splitting) (*Config, error) {
	return decodeFile[Config]("t.yaml", data, testEnv, sp)
}

func checkSameAsWhole(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := parseSplit(data, whole)
	for _, sp := range []splitting{splitEach, splitTwo} {
		got, err := parseSplit(data, sp)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("split into runs of %d: config differs from the whole file's (-whole +split):\n%s", sp.runItems, diff)
		}
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Errorf("split into runs of %d: errors differ from the whole file's:\nwhole:\n%v\nsplit:\n%v", sp.runItems, wantErr, err)
		}
	}
}

// TestSplitDecodesAsWhole: a file decoded in pieces gives the same Config,
// or the same errors at the same places, as the file decoded whole.
func TestSplitDecodesAsWhole(t *testing.T) {
	for _, tc := range splitCases {
		t.Run(tc.name, func(t *testing.T) { checkSameAsWhole(t, []byte(tc.yaml)) })
	}
	files, _ := filepath.Glob("../../examples/*.yaml")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(p), func(t *testing.T) { checkSameAsWhole(t, data) })
	}
}

// TestSplitKeepsRunPlacesOut: items decoded in runs leave no places
// behind (they are found again from the text when an error needs one), so
// that a large file's bookkeeping does not grow with its items.
func TestSplitKeepsRunPlacesOut(t *testing.T) {
	data := bigConfig(2000, 10)
	d := newDecoder("big.yaml", testEnv)
	v := newDefault(reflect.TypeFor[Config]())
	d.parseDocument(data, v, splitting{minSize: 0, runItems: 100})
	if len(d.errs) != 0 || len(d.runs) != 20 {
		t.Fatalf("decoded with %v and %d runs; want no errors and 20 runs of routes", d.errs, len(d.runs))
	}
	for p := range d.places {
		if strings.HasPrefix(p, "routes[") {
			t.Fatalf("place of %s kept; want none of the routes' in memory", p)
		}
	}
	w := newDecoder("big.yaml", testEnv)
	w.parseDocument(data, newDefault(reflect.TypeFor[Config]()), whole)
	for _, p := range []string{"routes[1234].match.path_prefix", "routes[0]", "routes[1999].name", "routes[1000].match"} {
		got, ok := d.place(p)
		if want := w.places[p]; !ok || got != want {
			t.Errorf("place(%s) = %v, %v; want %v as in the whole file", p, got, ok, want)
		}
	}
	if _, ok := d.place("routes[12].retry.attempts"); ok {
		t.Errorf("place(routes[12].retry.attempts) found; it is not written")
	}
}

// FuzzSplit checks that decoding in pieces never changes what a file
// means: any input decodes as it does whole.
func FuzzSplit(f *testing.F) {
	for _, tc := range splitCases {
		if len(tc.yaml) < 4096 { // the alias bomb is too slow a seed
			f.Add([]byte(tc.yaml))
		}
	}
	for _, tt := range parseErrorCases {
		f.Add([]byte(tt.yaml))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkSameAsWhole(t, data) })
}
