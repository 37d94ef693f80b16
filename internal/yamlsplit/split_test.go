package yamlsplit_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/internal/yamlsplit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSplit(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		kinds []yamlsplit.Kind // nil: not split
	}{
		{"entries and a long list in runs", "# c\na: 1\nlist:\n  - x\n  - y\n  - z\nb: {c: 1}\n",
			[]yamlsplit.Kind{yamlsplit.Entry, yamlsplit.Header, yamlsplit.Items, yamlsplit.Items, yamlsplit.Entry}},
		{"a short list stays whole", "list:\n  - x\n  - y\n", []yamlsplit.Kind{yamlsplit.Entry}},
		{"a list with a value on the key line stays whole", "list: &a\n  - x\n  - y\n  - z\n", []yamlsplit.Kind{yamlsplit.Entry}},
		{"a flow top level is not cut", "{a: 1}\n", nil},
		{"a document marker is not cut", "a: 1\n---\nb: 2\n", nil},
		{"content before the first key is not cut", "  a: 1\nb: 2\n", nil},
		{"an empty file is not cut", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pieces, ok := yamlsplit.Split([]byte(tt.in), 2)
			if ok != (tt.kinds != nil) {
				t.Fatalf("Split(%q) ok = %v, want %v", tt.in, ok, tt.kinds != nil)
			}
			if len(pieces) != len(tt.kinds) {
				t.Fatalf("Split(%q) = %d pieces, want %d", tt.in, len(pieces), len(tt.kinds))
			}
			for i, p := range pieces {
				if p.Kind != tt.kinds[i] {
					t.Errorf("piece %d kind %d, want %d", i, p.Kind, tt.kinds[i])
				}
				if _, err := p.Parse(); err != nil {
					t.Errorf("piece %d (%q) does not parse: %v", i, p.Data, err)
				}
				if _, err := p.ParseNode(); err != nil {
					t.Errorf("piece %d (%q) does not parse as nodes: %v", i, p.Data, err)
				}
			}
		})
	}
}

// A piece cut inside a quoted string does not parse as what it promises.
func TestParseRefusesAWrongCut(t *testing.T) {
	pieces, ok := yamlsplit.Split([]byte("list:\n  - \"a\n  - b\"\n  - c\n  - d\n"), 1)
	if !ok {
		t.Fatal("Split refused")
	}
	failed, failedNode := false, false
	for _, p := range pieces {
		if _, err := p.Parse(); err != nil {
			failed = true
		}
		if _, err := p.ParseNode(); err != nil {
			failedNode = true
		}
	}
	if !failed || !failedNode {
		t.Errorf("every piece parsed (goccy: %v, nodes: %v); want the cut inside the string found", !failed, !failedNode)
	}
}

// ParseNode gives lines and columns as in the whole file, a Header's key
// alone, and the items of a run without the peeked next item.
func TestParseNodePlaces(t *testing.T) {
	in := "# c\na: 1\nlist:\n  - x\n  - {k: y}\n  - z\nb: 2\n"
	pieces, ok := yamlsplit.Split([]byte(in), 2)
	if !ok || len(pieces) != 5 {
		t.Fatalf("Split = %d pieces, %v; want 5", len(pieces), ok)
	}
	type at struct{ line, col int }
	var got []at
	for _, p := range pieces {
		n, err := p.ParseNode()
		if err != nil {
			t.Fatalf("piece %q: %v", p.Data, err)
		}
		switch p.Kind {
		case yamlsplit.Header:
			if n.Key.Value != "list" || n.Value != nil {
				t.Errorf("header = %q, %v; want the key list alone", n.Key.Value, n.Value)
			}
			got = append(got, at{n.Key.Line, n.Key.Column})
		case yamlsplit.Items:
			for _, it := range n.Items {
				got = append(got, at{it.Line, it.Column})
			}
		default:
			got = append(got, at{n.Value.Line, n.Value.Column})
		}
	}
	want := []at{{2, 4}, {3, 1}, {4, 5}, {5, 5}, {6, 5}, {7, 4}}
	if len(got) != len(want) {
		t.Fatalf("places %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("place %d = %v, want %v", i, got[i], want[i])
		}
	}
}

// Items report lines as in the whole file, and Close stops the workers
// before every piece was taken.
func TestAheadInOrderAndClose(t *testing.T) {
	in := "list:\n  - a\n  - b\n  - c\n  - d\n  - e\n"
	pieces, _ := yamlsplit.Split([]byte(in), 1)
	a := yamlsplit.NewAhead(pieces, 2, 2, func(p yamlsplit.Piece) (yamlsplit.Parsed, error) { return p.Parse() })
	if _, err := a.Next(); err != nil { // the header
		t.Fatal(err)
	}
	for want := 2; want <= 3; want++ {
		p, err := a.Next()
		if err != nil || len(p.Items) != 1 {
			t.Fatalf("Next = %v, %v; want one item", p, err)
		}
		if line := p.Items[0].GetToken().Position.Line; line != want {
			t.Errorf("item at line %d, want %d", line, want)
		}
	}
	a.Close()
}
