package yamlsplit

import (
	"fmt"

	yaml "go.yaml.in/yaml/v3"
)

// NodeParsed is a piece parsed by [Piece.ParseNode].
type NodeParsed struct {
	// Key and Value are an Entry's key and value, or a Header's key
	// (Value is nil: the list is in the Items pieces that follow).
	Key, Value *yaml.Node
	// Items are the items of an Items piece.
	Items []*yaml.Node
}

// ParseNode parses the piece with go.yaml.in/yaml/v3, with lines as in the
// whole file, and checks, as [Piece.Parse] does, that it holds what its
// kind says and that the next piece starts where it was cut; it returns
// [ErrShape] when not, and the parser's error when the text is not YAML
// on its own (an alias to an anchor in another piece, say). Columns are as
// in the file: a piece starts at the beginning of a line. A panic of the
// parser is returned as an error.
func (p Piece) ParseNode() (out NodeParsed, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = NodeParsed{}, fmt.Errorf("the YAML parser failed on this file (%v); check its syntax", r)
		}
	}()
	text, off := p.text()
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return NodeParsed{}, err
	}
	if off != 0 {
		shiftLines(&doc, off)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return NodeParsed{}, ErrShape
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode || m.Style&yaml.FlowStyle != 0 || len(m.Content) < 2 {
		return NodeParsed{}, ErrShape
	}
	pairs := len(m.Content) / 2
	// startsNext reports whether the second pair is the next piece's key.
	startsNext := func() bool {
		if len(p.peek) == 0 || p.peekItem {
			return pairs == 1
		}
		k := m.Content[2]
		return pairs == 2 && k.Line == p.peekLine() && k.Column == 1
	}
	key, value := m.Content[0], m.Content[1]
	switch p.Kind {
	case Entry:
		if startsNext() {
			return NodeParsed{Key: key, Value: value}, nil
		}
	case Header:
		// The peek is the list's first item line.
		if pairs == 1 && nodeSeqLen(value) == 1 {
			return NodeParsed{Key: key}, nil
		}
	case Items:
		if !startsNext() {
			break
		}
		want := p.Count
		if p.peekItem {
			want++
		}
		if nodeSeqLen(value) == want {
			return NodeParsed{Items: value.Content[:p.Count:p.Count]}, nil
		}
	}
	return NodeParsed{}, ErrShape
}

// nodeSeqLen returns the length of a block sequence, -1 for anything else.
func nodeSeqLen(n *yaml.Node) int {
	if n.Kind == yaml.SequenceNode && n.Style&yaml.FlowStyle == 0 {
		return len(n.Content)
	}
	return -1
}

// shiftLines adds off to the line of n and of every node under it. An
// alias's target is under the anchor's node, where it is shifted once.
func shiftLines(n *yaml.Node, off int) {
	n.Line += off
	for _, c := range n.Content {
		shiftLines(c, off)
	}
}
