// Package yamlsplit cuts a large YAML file into pieces that parse on their
// own, so that a file of hundreds of thousands of list items is parsed one
// run of items at a time, on several cores ([Ahead]): a syntax tree takes
// tens of bytes of memory per byte of input (goccy/go-yaml's about 60,
// go.yaml.in/yaml/v3's about 30), too much to hold for a whole 10 MB file.
// A piece parses with either library: [Piece.Parse] (goccy/go-yaml, which
// discovery/static decodes with) or [Piece.ParseNode] (go.yaml.in/yaml/v3,
// which internal/config decodes).
//
// Split cuts only where the cut is certain from the text alone: between
// top-level entries (lines that start in column 0), and between the items
// of a top-level block sequence (lines that start with "- " at the list's
// indentation). Where a piece parses to something else than its kind
// promises (a multi-line quoted string cut in two, say), [Piece.Parse] or
// the caller's checks see it, and the caller parses the file whole
// instead: splitting never changes what a file means.
//
//	pieces, ok := yamlsplit.Split(data, 1024)
//	if !ok {
//		// parse data whole
//	}
//	for _, p := range pieces {
//		f, err := p.Parse()
//		…
//	}
package yamlsplit

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Kind says what a [Piece] holds.
type Kind uint8

const (
	// Entry is one whole top-level entry, "key: value", with its value's
	// lines and the comments around it.
	Entry Kind = iota
	// Header is the line of a top-level key whose value, a block
	// sequence, follows in the Items pieces after it. It parses to the
	// key with a null value.
	Header
	// Items is a run of items of the block sequence of the last Header.
	Items
)

// Piece is a run of whole lines of the file.
type Piece struct {
	Kind  Kind
	Data  []byte // the lines, a slice of the file's bytes
	Line  int    // 1-based number in the file of Data's first line
	First int    // Items: index in the sequence of the first item
	Count int    // Items: items in Data; Header: items in the sequence

	// What is parsed with Data, so that it parses in its context and the
	// cuts on either side are checked: the key line of the list, before
	// the items of a run; the first line of the next piece, after.
	prefix, peek []byte
	peekItem     bool // peek starts an item of the same list, not a key
}

// Parsed is a piece parsed.
type Parsed struct {
	// Pair is an Entry's key and value, or a Header's key: a Header's
	// value is the list, in the Items pieces that follow.
	Pair *ast.MappingValueNode
	// Items are the items of an Items piece.
	Items []ast.Node
}

// ErrShape is returned by [Piece.Parse] when a piece does not parse to what
// its kind promises: the file is to be parsed whole.
var ErrShape = errors.New("yamlsplit: the piece does not parse on its own")

// Parse parses the piece with goccy/go-yaml, with positions as in the whole
// file, and checks that it holds what its kind says and that the next
// piece starts where it was cut. A panic of the parser is returned as an
// error.
func (p Piece) Parse(opts ...parser.Option) (out Parsed, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = Parsed{}, fmt.Errorf("the YAML parser failed on this file (%v); check its syntax", r)
		}
	}()
	text, off := p.text()
	tokens := lexer.Tokenize(string(text))
	if off != 0 {
		var prev *token.Position
		for _, tk := range tokens {
			// Each token has its own Position; guard against one shared
			// by neighbours all the same, so that none moves twice.
			if tk.Position != nil && tk.Position != prev {
				tk.Position.Line += off
				prev = tk.Position
			}
		}
	}
	f, err := parser.Parse(tokens, 0, opts...)
	if err != nil {
		return Parsed{}, err
	}
	pairs := pairsOf(body(f))
	peekLine := p.peekLine()
	// startsNext reports whether the second pair is the next piece's key.
	startsNext := func() bool {
		if len(p.peek) == 0 || p.peekItem {
			return len(pairs) == 1
		}
		if len(pairs) != 2 || pairs[1].Key == nil {
			return false
		}
		pos := pairs[1].Key.GetToken().Position
		return pos != nil && pos.Line == peekLine && pos.Column == 1
	}
	switch p.Kind {
	case Entry:
		if startsNext() {
			return Parsed{Pair: pairs[0]}, nil
		}
	case Header:
		// The peek is the list's first item line.
		if len(pairs) == 1 && seqLen(pairs[0].Value) == 1 {
			return Parsed{Pair: pairs[0]}, nil
		}
	case Items:
		if len(pairs) == 0 || !startsNext() {
			break
		}
		want := p.Count
		if p.peekItem {
			want++
		}
		if seqLen(pairs[0].Value) == want {
			return Parsed{Items: pairs[0].Value.(*ast.SequenceNode).Values[:p.Count]}, nil
		}
	}
	return Parsed{}, ErrShape
}

// text returns what is parsed for the piece: its prefix, its lines and the
// peek, and how many lines to add to a line number in it to make it the
// line in the file.
func (p Piece) text() ([]byte, int) {
	text := make([]byte, 0, len(p.prefix)+len(p.Data)+len(p.peek)+1)
	text = append(append(text, p.prefix...), p.Data...)
	if len(p.peek) > 0 {
		if len(text) > 0 && text[len(text)-1] != '\n' {
			text = append(text, '\n')
		}
		text = append(text, p.peek...)
	}
	return text, p.Line - 1 - bytes.Count(p.prefix, []byte("\n"))
}

// peekLine returns the line in the file of the peek (the next piece's
// first line).
func (p Piece) peekLine() int {
	l := p.Line + bytes.Count(p.Data, []byte("\n"))
	if len(p.Data) > 0 && p.Data[len(p.Data)-1] != '\n' {
		l++
	}
	return l
}

// body returns the body of a file's one document, nil if there is not
// exactly one.
func body(f *ast.File) ast.Node {
	var b ast.Node
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if _, ok := doc.Body.(*ast.CommentGroupNode); ok {
			continue
		}
		if b != nil {
			return nil
		}
		b = doc.Body
	}
	return b
}

// pairsOf returns the pairs of a block mapping, nil for anything else.
func pairsOf(n ast.Node) []*ast.MappingValueNode {
	switch m := n.(type) {
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}
	case *ast.MappingNode:
		if !m.IsFlowStyle {
			return m.Values
		}
	}
	return nil
}

// seqLen returns the length of a block sequence, -1 for anything else.
func seqLen(n ast.Node) int {
	if s, ok := n.(*ast.SequenceNode); ok && !s.IsFlowStyle {
		return len(s.Values)
	}
	return -1
}

// Split cuts data into pieces in file order, splitting the block sequences
// of top-level keys that have more than runItems items into runs of
// runItems items. It returns false when data has a shape it does not cut
// (a top level that is not a block mapping, several documents, directives,
// tabs or odd characters in column 0): the caller then parses it whole.
func Split(data []byte, runItems int) ([]Piece, bool) {
	if runItems < 1 || bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return nil, false
	}
	lines := lineStarts(data)
	var keys []int // lines that start a top-level entry
	for i := range lines {
		switch topLevel(line(data, lines, i)) {
		case key:
			keys = append(keys, i)
		case refuse:
			return nil, false
		}
	}
	if len(keys) == 0 {
		return nil, false // an empty file, a scalar, a list
	}
	// Only comments and blank lines may come before the first key; they
	// join its entry.
	for i := range keys[0] {
		if !blankOrComment(line(data, lines, i)) {
			return nil, false
		}
	}
	var pieces []Piece
	for n, k := range keys {
		from, to := k, len(lines)
		if n == 0 {
			from = 0
		}
		if n+1 < len(keys) {
			to = keys[n+1]
		}
		pieces = appendEntry(pieces, data, lines, from, to, runItems)
	}
	for i := range pieces {
		if i+1 < len(pieces) {
			next := pieces[i+1]
			pieces[i].peek = next.Data[:firstLineLen(next.Data)]
			pieces[i].peekItem = next.Kind == Items && pieces[i].Kind == Items
			if pieces[i].Kind == Header {
				pieces[i].peekItem = true
			}
		}
	}
	return pieces, true
}

func firstLineLen(b []byte) int {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return i + 1
	}
	return len(b)
}

// appendEntry appends the top-level entry of lines [from, to): split when
// it is a key alone on its line followed by a long block sequence, whole
// otherwise.
func appendEntry(pieces []Piece, data []byte, lines []int, from, to, runItems int) []Piece {
	whole := append(pieces, Piece{Kind: Entry, Data: span(data, lines, from, to), Line: from + 1})
	// The key line: the first line of the entry that is not a comment
	// (comments and blank lines before the first key join the first entry).
	k := from
	for k < to && blankOrComment(line(data, lines, k)) {
		k++
	}
	if k >= to || !bytes.HasSuffix(bytes.TrimRight(line(data, lines, k), " \r\n"), []byte(":")) {
		return whole
	}
	// Item starts: lines at the indentation of the first item that begin
	// with "-" and then a space or the line's end. A less indented line,
	// or one at that indentation that is not an item, leaves the entry
	// whole.
	indent := -1
	var items []int
	for j := k + 1; j < to; j++ {
		l := line(data, lines, j)
		if blankOrComment(l) {
			continue
		}
		n := 0
		for n < len(l) && l[n] == ' ' {
			n++
		}
		if indent < 0 {
			indent = n
		}
		switch {
		case n < indent:
			return whole
		case n > indent:
			continue
		case isItem(l[n:]):
			items = append(items, j)
		default:
			return whole
		}
	}
	if len(items) <= runItems {
		return whole
	}
	pieces = append(pieces, Piece{Kind: Header, Data: span(data, lines, from, items[0]), Line: from + 1, Count: len(items)})
	keyLine := line(data, lines, k)
	for first := 0; first < len(items); first += runItems {
		last := min(first+runItems, len(items))
		end := to
		if last < len(items) {
			end = items[last]
		}
		pieces = append(pieces, Piece{Kind: Items, Data: span(data, lines, items[first], end), Line: items[first] + 1, First: first, Count: last - first, prefix: keyLine})
	}
	return pieces
}

type lineKind uint8

const (
	other  lineKind = iota // belongs to the entry above
	key                    // starts a top-level entry
	refuse                 // a shape Split does not cut
)

// topLevel classifies a line by its first byte.
func topLevel(l []byte) lineKind {
	if len(l) == 0 {
		return other
	}
	switch c := l[0]; {
	case c == ' ' || c == '\n' || c == '\r' || c == '#':
		return other
	case c == '-':
		if isItem(l) {
			return other // an item of a list written at column 0
		}
		return refuse // "---", or a key starting with '-'
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '"' || c == '\'':
		return key
	}
	// Flow collections, directives, "...", tags, anchors, aliases,
	// complex keys, block scalars, tabs.
	return refuse
}

// isItem reports whether l (from its indentation on) starts a sequence item.
func isItem(l []byte) bool {
	return len(l) > 0 && l[0] == '-' && (len(l) == 1 || l[1] == ' ' || l[1] == '\n' || l[1] == '\r')
}

func blankOrComment(l []byte) bool {
	t := bytes.TrimLeft(l, " ")
	return len(t) == 0 || t[0] == '\n' || t[0] == '\r' || t[0] == '#'
}

// lineStarts returns the offset of each line of data.
func lineStarts(data []byte) []int {
	starts := make([]int, 0, bytes.Count(data, []byte("\n"))+1)
	for off := 0; off < len(data); {
		starts = append(starts, off)
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			break
		}
		off += i + 1
	}
	return starts
}

// line returns line i of data, with its newline.
func line(data []byte, lines []int, i int) []byte { return span(data, lines, i, i+1) }

// span returns lines [from, to) of data.
func span(data []byte, lines []int, from, to int) []byte {
	end := len(data)
	if to < len(lines) {
		end = lines[to]
	}
	return data[lines[from]:end:end]
}
