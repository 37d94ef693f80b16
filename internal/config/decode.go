package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/duohuo/duohuo/internal/yamlsplit"
)

// The file is parsed by go.yaml.in/yaml/v3 (a port of libyaml, some five
// times faster than goccy/go-yaml's parser and with a fifth of its
// garbage; a file of 200,000 routes is read in a second or two). Its
// errors name a line at most, so a file that does not parse is read again
// by goccy/go-yaml's parser, only to say where and what is wrong with a
// line and a column (syntaxError).

// maxValues bounds the values decoded from one file, so that aliases that
// expand exponentially ("billion laughs") are refused instead of exhausting
// memory: a file decodes to at most max(minValueLimit, its size / 2)
// values. Written out, every value takes at least two bytes ("1," in a flow
// list), so only aliases can reach the bound, and decoding stays linear in
// the file's size whatever they do.
const minValueLimit = 100_000

func maxValues(size int) int { return max(minValueLimit, size/2) }

// place is a 1-based line and column.
type place struct{ line, col int }

// decoder turns a YAML node tree into typed structs, collecting every error with its
// place rather than stopping at the first, and remembering where each key path
// was written so that later checks can point at it.
type decoder struct {
	file   string
	dir    string // against which checks resolve relative paths; "" for the working directory
	lookup func(string) (string, bool)
	errs   Errors
	warns  Errors           // valid settings that do not do what they say yet
	places map[string]place // key path → where its value (or, for sections, its key) is written
	record bool             // record places while decoding (off inside runs: see place)
	nodes  int              // values decoded so far
	limit  int              // most values decoded (maxValues)

	// The runs of list items of a file decoded in pieces (decodePieces):
	// their places are not kept, which for a file of 200,000 routes would
	// take more memory than the routes, but found again when a check asks
	// (place), from the run's text. lastRun caches the last run so found.
	runs     []run
	lastRun  *run
	runPlace map[string]place
}

// run is a piece of the file holding items of a top-level list.
type run struct {
	key   string       // the list's key
	elem  reflect.Type // the type of its items
	piece yamlsplit.Piece
	nodes int // values decoded before it, towards the limit
}

func newDecoder(file string, lookup func(string) (string, bool)) *decoder {
	return &decoder{file: file, lookup: lookup, places: map[string]place{}, record: true}
}

func (d *decoder) errorAt(p place, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: p.line, Col: p.col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// errorf reports an error about path at the place it was written or, when it
// was not (a missing required key), at its nearest written parent.
func (d *decoder) errorf(path, format string, args ...any) {
	d.errorAt(d.placeOf(path), path, format, args...)
}

func (d *decoder) placeOf(path string) place {
	for p := path; p != ""; p = parentPath(p) {
		if pl, ok := d.place(p); ok {
			return pl
		}
	}
	return place{1, 1}
}

// place returns where path was written, and whether it was.
func (d *decoder) place(path string) (place, bool) {
	if pl, ok := d.places[path]; ok || len(d.runs) == 0 {
		return pl, ok
	}
	r := d.runOf(path)
	if r == nil {
		return place{}, false
	}
	if r != d.lastRun {
		d.lastRun, d.runPlace = r, d.placesOf(r)
	}
	pl, ok := d.runPlace[path]
	return pl, ok
}

// runOf returns the run that holds path ("routes[12].name"), or nil.
func (d *decoder) runOf(path string) *run {
	key, rest, ok := strings.Cut(path, "[")
	if !ok {
		return nil
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return nil
	}
	i, err := strconv.Atoi(rest[:end])
	if err != nil {
		return nil
	}
	holds := func(r *run) bool { return r.key == key && r.piece.First <= i && i < r.piece.First+r.piece.Count }
	if d.lastRun != nil && holds(d.lastRun) {
		return d.lastRun
	}
	for j := range d.runs {
		if holds(&d.runs[j]) {
			return &d.runs[j]
		}
	}
	return nil
}

// placesOf decodes r's items again, this time recording their places. The
// piece parsed once already, so it parses again.
func (d *decoder) placesOf(r *run) map[string]place {
	again := &decoder{file: d.file, lookup: d.lookup, places: map[string]place{}, record: true, nodes: r.nodes, limit: d.limit}
	parsed, err := r.piece.ParseNode()
	if err != nil {
		return nil
	}
	var path []byte
	for j, item := range parsed.Items {
		path = appendIndex(appendKey(path[:0], r.key), r.piece.First+j)
		again.places[string(path)] = placeOfNode(again.resolve(item))
		v := reflect.New(r.elem).Elem()
		applyDefaults(v)
		again.decode(path, item, v)
	}
	return again.places
}

// parentPath returns "a.b" for "a.b.c" and "a.b" for "a.b[2]".
func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

// join returns path.key (key alone at the top).
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// placeOfNode returns where n starts: for a block mapping, its first key;
// for a flow mapping or list, its bracket.
func placeOfNode(n *yamlv3.Node) place {
	if n == nil {
		return place{1, 1}
	}
	if n.Kind == yamlv3.MappingNode && n.Style&yamlv3.FlowStyle == 0 && len(n.Content) > 0 {
		n = n.Content[0]
	}
	return place{max(n.Line, 1), max(n.Column, 1)}
}

// splitting says when a file is decoded in pieces (decodePieces): files of
// at least minSize bytes, whose lists of more than runItems items are
// parsed runItems at a time.
type splitting struct{ minSize, runItems int }

// defaultSplitting: a file of 1 MiB has some 15,000 routes; below that, its
// syntax tree takes a few tens of megabytes, and one parse is simplest.
var defaultSplitting = splitting{minSize: 1 << 20, runItems: 256}

// parseDocument parses data and decodes its single document into the struct
// that ptr points to. A large file is decoded in pieces if its shape
// allows, else whole.
func (d *decoder) parseDocument(data []byte, ptr reflect.Value, sp splitting) {
	d.limit = maxValues(len(data))
	if len(data) >= sp.minSize {
		if pieces, ok := yamlsplit.Split(data, sp.runItems); ok {
			if d.decodePieces(pieces, ptr.Elem()) {
				return
			}
			// A piece did not parse as what it should hold (a
			// syntax error, a string across the cut): start over
			// with the file whole, which says what is wrong.
			*d = *newDecoder(d.file, d.lookup)
			d.limit = maxValues(len(data))
			ptr.Elem().Set(newDefault(ptr.Elem().Type()).Elem())
		}
	}
	body, err := parseWhole(data)
	if err != nil {
		p, msg := syntaxError(data, err)
		d.errorAt(p, "", "%s", msg)
		return
	}
	if body == nil {
		return // an empty file: all defaults
	}
	d.decode(nil, body, ptr.Elem())
}

// errSecondDocument is parseWhole's error for a file of several documents.
type errSecondDocument struct{ at place }

func (e errSecondDocument) Error() string {
	return "a configuration file holds one YAML document; remove the --- separator"
}

// parseWhole parses data whole and returns the body of its one document,
// nil for a file that holds none (empty, or comments only). A panic of the
// parser is returned as an error.
func parseWhole(data []byte) (body *yamlv3.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			body, err = nil, fmt.Errorf("the YAML parser failed on this file (%v); check its syntax", r)
		}
	}()
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	for {
		var doc yamlv3.Node
		switch err := dec.Decode(&doc); {
		case errors.Is(err, io.EOF):
			return body, nil
		case err != nil:
			return nil, err
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) && doc.Content[0].Value == "" {
			continue // "---" and nothing, or comments
		}
		if body != nil {
			return nil, errSecondDocument{placeOfNode(doc.Content[0])}
		}
		body = doc.Content[0]
	}
}

// unknownAnchor is go.yaml.in/yaml/v3's message for an alias without an
// anchor before it.
var unknownAnchor = regexp.MustCompile(`unknown anchor '([^']*)' referenced`)

// v3Line is the line go.yaml.in/yaml/v3 puts in its messages.
var v3Line = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError says where and what err, go.yaml.in/yaml/v3's error for
// data, is: goccy/go-yaml's parser says it with a column, and for an alias
// without an anchor its tokens say where the alias is. Where goccy parses
// what v3 refused, v3's message is given at its line.
func syntaxError(data []byte, err error) (place, string) {
	var second errSecondDocument
	if errors.As(err, &second) {
		return second.at, second.Error()
	}
	if _, gerr := parseYAML(data); gerr != nil {
		var ye yaml.Error
		if errors.As(gerr, &ye) && ye.GetToken() != nil && ye.GetToken().Position != nil {
			pos := ye.GetToken().Position
			msg := ye.GetMessage()
			if strings.Contains(msg, "'\t'") {
				msg = "a tab cannot indent YAML; use spaces"
			}
			return place{pos.Line, pos.Column}, "yaml: " + msg
		}
	}
	msg := err.Error()
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		at := place{1, 1}
		tks := tokens(data)
		for i, tk := range tks {
			// goccy's lexer makes "*name" two tokens: '*', then the name.
			if tk.Type == token.AliasType && i+1 < len(tks) && tks[i+1].Value == m[1] && tk.Position != nil {
				at = place{tk.Position.Line, tk.Position.Column}
				break
			}
		}
		return at, fmt.Sprintf("alias *%s refers to no anchor defined before it", m[1])
	}
	at := place{1, 1}
	if m := v3Line.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			at.line = n
		}
		msg = "yaml: " + msg[len(m[0]):]
	}
	return at, msg
}

// tokens returns goccy/go-yaml's tokens of data, nil if its lexer panics.
func tokens(data []byte) (tks token.Tokens) {
	defer func() {
		if recover() != nil {
			tks = nil
		}
	}()
	return lexer.Tokenize(string(data))
}

// decodePieces decodes a file cut by yamlsplit.Split into the struct v, and
// reports false, having decoded part of it, when a piece is not what its
// kind promises. Only one run of list items is in memory at a time (a few
// more are being parsed ahead), so a large file takes little more memory
// than what it decodes to.
func (d *decoder) decodePieces(pieces []yamlsplit.Piece, v reflect.Value) bool {
	workers := runtime.GOMAXPROCS(0)
	ahead := yamlsplit.NewAhead(pieces, workers, 2*workers, yamlsplit.Piece.ParseNode)
	defer ahead.Close()
	fields := fieldsOf(v.Type())
	var seen keySet
	var path []byte
	d.nodes++ // the top-level mapping
	for i := 0; i < len(pieces); i++ {
		parsed, err := ahead.Next()
		k := parsed.Key
		if err != nil || k == nil || isMergeKey(k) {
			return false
		}
		if pieces[i].Kind == yamlsplit.Entry {
			d.decodePair(nil, k, parsed.Value, v, fields, &seen)
			continue
		}
		// A list's key alone, and then the runs of its items.
		if k.Kind != yamlv3.ScalarNode || pieces[i].Kind != yamlsplit.Header {
			return false
		}
		fd, known := fields[k.Value]
		if _, dup := seen.first(k.Value); dup || !known || fd.typ.Kind() != reflect.Slice {
			return false // let the whole file's decoding say what is wrong
		}
		kp := placeOfNode(k)
		seen.add(k.Value, kp)
		d.places[k.Value] = kp
		d.nodes++ // the list
		list := reflect.MakeSlice(fd.typ, pieces[i].Count, pieces[i].Count)
		v.FieldByIndex(fd.index).Set(list)
		for done := 0; done < list.Len(); {
			i++
			if i >= len(pieces) || pieces[i].Kind != yamlsplit.Items || pieces[i].First != done {
				return false
			}
			parsed, err := ahead.Next()
			if err != nil {
				return false
			}
			d.runs = append(d.runs, run{key: k.Value, elem: fd.typ.Elem(), piece: pieces[i], nodes: d.nodes})
			d.record = false
			for j, item := range parsed.Items {
				path = appendIndex(appendKey(path[:0], k.Value), done+j)
				e := list.Index(done + j)
				applyDefaults(e)
				d.decode(path, item, e)
			}
			d.record = true
			done += len(parsed.Items)
		}
	}
	return true
}

// isNull reports whether n is no value: "key:", "~", "null".
func isNull(n *yamlv3.Node) bool {
	return n == nil || n.Kind == yamlv3.ScalarNode && n.ShortTag() == "!!null"
}

// isMergeKey reports whether k is "<<", the merge key.
func isMergeKey(k *yamlv3.Node) bool {
	return k.Kind == yamlv3.ScalarNode && k.ShortTag() == "!!merge"
}

// keySet is the keys of one mapping with where each is written, to find
// duplicates. Most mappings have a few keys, held in place; a map is made
// for the rest.
type keySet struct {
	n     int
	small [8]struct {
		key string
		at  place
	}
	m map[string]place
}

func (s *keySet) first(key string) (place, bool) {
	for i := range s.n {
		if s.small[i].key == key {
			return s.small[i].at, true
		}
	}
	p, ok := s.m[key]
	return p, ok
}

func (s *keySet) add(key string, p place) {
	if s.n < len(s.small) {
		s.small[s.n].key, s.small[s.n].at = key, p
		s.n++
		return
	}
	if s.m == nil {
		s.m = map[string]place{}
	}
	s.m[key] = p
}

// extensionPrefix starts top-level keys that the decoder ignores, so that a
// file can hold YAML anchors to reuse (as in Docker Compose).
const extensionPrefix = "x-"

// parseYAML calls goccy/go-yaml's parser, for syntaxError, turning a panic
// into an error: fuzzing (here and in discovery/static) found inputs on
// which v1.19.2 dereferences nil, and a bad file must be refused, never
// crash the gateway. Duplicate keys are allowed, as the decoder reports
// them.
func parseYAML(data []byte) (f any, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed on this file (%v); check its syntax", r)
		}
	}()
	return parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
}

// resolve follows aliases to the node that holds the value.
func (d *decoder) resolve(n *yamlv3.Node) *yamlv3.Node {
	for range 64 {
		if n == nil || n.Kind != yamlv3.AliasNode {
			return n
		}
		n = n.Alias
	}
	return nil
}

// decode sets v from node n written at path. path is a buffer that decode
// appends to and gives back as it was: a path is made a string only for an
// error or a recorded place.
func (d *decoder) decode(path []byte, n *yamlv3.Node, v reflect.Value) {
	d.nodes++
	if d.nodes > d.limit {
		if d.nodes == d.limit+1 {
			d.errorAt(placeOfNode(n), string(path), "too many values (more than %d); are aliases expanding?", d.limit)
		}
		return
	}
	if n != nil && n.Kind == yamlv3.AliasNode && d.resolve(n) == nil {
		d.errorAt(placeOfNode(n), string(path), "alias *%s refers to no anchor defined before it", n.Value)
		return
	}
	n = d.resolve(n)
	if isNull(n) {
		// "key:" with no value keeps the default; an empty optional
		// section ("success_rate:") switches it on with its defaults.
		if v.Kind() == reflect.Pointer && v.IsNil() {
			v.Set(newDefault(v.Type().Elem()))
		}
		return
	}
	if isScalar(v.Type()) {
		text, ok := d.scalarText(path, n)
		if ok {
			if err := v.Addr().Interface().(scalar).parseScalar(text); err != nil {
				d.errorAt(placeOfNode(n), string(path), "%s", err.Error())
			}
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isSection(v.Type().Elem()) && !isCollection(n) {
			// An optional section written as true is on with its
			// defaults; false is off (upstream.tls: true).
			text, ok := d.scalarText(path, n)
			switch {
			case !ok:
			case text == "false":
				v.SetZero()
			case text == "true":
				if v.IsNil() {
					v.Set(newDefault(v.Type().Elem()))
				}
			default:
				d.errorAt(placeOfNode(n), string(path), "invalid boolean %q: write true or false, or the section's keys", text)
			}
			return
		}
		if v.IsNil() {
			v.Set(newDefault(v.Type().Elem()))
		}
		d.decode(path, n, v.Elem())
	case reflect.Struct:
		d.decodeStruct(path, n, v)
	case reflect.Slice:
		if n.Kind != yamlv3.SequenceNode {
			d.errorAt(placeOfNode(n), string(path), "want a list, got %s", kindOf(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := appendIndex(path, i)
			if d.record {
				d.places[string(p)] = placeOfNode(d.resolve(item))
			}
			applyDefaults(s.Index(i))
			d.decode(p, item, s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		d.decodeMap(path, n, v)
	default:
		if text, ok := d.scalarText(path, n); ok {
			if err := setScalar(v, text); err != nil {
				d.errorAt(placeOfNode(n), string(path), "%s", err.Error())
			}
		}
	}
}

// entries returns the keys and values of a mapping node, one after the
// other.
func entries(n *yamlv3.Node) ([]*yamlv3.Node, bool) {
	if n.Kind != yamlv3.MappingNode || len(n.Content)%2 != 0 {
		return nil, false
	}
	return n.Content, true
}

func (d *decoder) keyText(path []byte, k *yamlv3.Node) (string, bool) {
	if r := d.resolve(k); r != nil && r.Kind == yamlv3.ScalarNode {
		return r.Value, true
	}
	d.errorAt(placeOfNode(k), string(path), "complex keys (?) are not supported")
	return "", false
}

func (d *decoder) decodeStruct(path []byte, n *yamlv3.Node, v reflect.Value) {
	kvs, ok := entries(n)
	if !ok {
		d.errorAt(placeOfNode(n), string(path), "want a mapping of keys, got %s", kindOf(n))
		return
	}
	fields := fieldsOf(v.Type())
	// Merge keys ("<<: *defaults") first, so that keys written in this
	// mapping override what they bring.
	for i := 0; i < len(kvs); i += 2 {
		if isMergeKey(kvs[i]) {
			if m := d.resolve(kvs[i+1]); m != nil {
				d.decodeStruct(path, m, v)
			}
		}
	}
	var seen keySet
	for i := 0; i < len(kvs); i += 2 {
		d.decodePair(path, kvs[i], kvs[i+1], v, fields, &seen)
	}
}

// decodePair decodes one key and its value of a mapping written at path
// into the struct v, whose fields are fields; seen holds the keys of the
// mapping decoded so far.
func (d *decoder) decodePair(path []byte, k, val *yamlv3.Node, v reflect.Value, fields map[string]field, seen *keySet) {
	if isMergeKey(k) {
		return
	}
	key, ok := d.keyText(path, k)
	if !ok {
		return
	}
	kp := placeOfNode(k)
	p := appendKey(path, key)
	if first, dup := seen.first(key); dup {
		d.errorAt(kp, string(p), "duplicate key (first at line %d)", first.line)
		return
	}
	seen.add(key, kp)
	if len(path) == 0 && strings.HasPrefix(key, extensionPrefix) {
		// An extension key holds anchors for the rest of the file;
		// its value is not configuration.
		return
	}
	f, ok := fields[key]
	if !ok {
		msg := fmt.Sprintf("unknown key %q", key)
		if s := suggest(key, fields); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		d.errorAt(kp, string(p), "%s", msg)
		return
	}
	if d.record {
		rv := d.resolve(val)
		if isCollection(rv) || isNull(rv) {
			d.places[string(p)] = kp
		} else {
			d.places[string(p)] = placeOfNode(rv)
		}
	}
	d.decode(p, val, v.FieldByIndex(f.index))
}

func (d *decoder) decodeMap(path []byte, n *yamlv3.Node, v reflect.Value) {
	kvs, ok := entries(n)
	if !ok {
		d.errorAt(placeOfNode(n), string(path), "want a mapping, got %s", kindOf(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(kvs)/2)
	var seen keySet
	for i := 0; i < len(kvs); i += 2 {
		k, val := kvs[i], kvs[i+1]
		if isMergeKey(k) {
			d.errorAt(placeOfNode(k), string(path), "merge keys (<<) are not supported here")
			continue
		}
		key, ok := d.keyText(path, k)
		if !ok {
			continue
		}
		kp := placeOfNode(k)
		p := appendKey(path, key)
		if first, dup := seen.first(key); dup {
			d.errorAt(kp, string(p), "duplicate key (first at line %d)", first.line)
			continue
		}
		seen.add(key, kp)
		if d.record {
			d.places[string(p)] = placeOfNode(d.resolve(val))
		}
		ev := reflect.New(v.Type().Elem()).Elem()
		d.decode(p, val, ev)
		m.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), ev)
	}
	v.Set(m)
}

// scalarText returns the text of a scalar node after ${VAR} expansion.
func (d *decoder) scalarText(path []byte, n *yamlv3.Node) (string, bool) {
	if n == nil || n.Kind != yamlv3.ScalarNode {
		d.errorAt(placeOfNode(n), string(path), "want a single value, got %s", kindOf(n))
		return "", false
	}
	out, err := expand(n.Value, d.lookup)
	if err != nil {
		d.errorAt(placeOfNode(n), string(path), "%s", err.Error())
		return "", false
	}
	return out, true
}

// isSection reports whether t is a section (a struct of keys) rather than a
// value type written as one scalar.
func isSection(t reflect.Type) bool {
	_, isScalar := reflect.New(t).Interface().(scalar)
	return t.Kind() == reflect.Struct && !isScalar
}

func isCollection(n *yamlv3.Node) bool {
	return n != nil && (n.Kind == yamlv3.MappingNode || n.Kind == yamlv3.SequenceNode)
}

func kindOf(n *yamlv3.Node) string {
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yamlv3.MappingNode:
		return "a mapping"
	case n.Kind == yamlv3.SequenceNode:
		return "a list"
	}
	return "a single value"
}

// setScalar sets a string, bool or number from text.
func setScalar(v reflect.Value, text string) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Bool:
		switch strings.ToLower(strings.TrimSpace(text)) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return fmt.Errorf("invalid boolean %q: write true or false", text)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil || v.OverflowInt(i) {
			return fmt.Errorf("invalid integer %q", text)
		}
		v.SetInt(i)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("invalid number %q", text)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

// setText sets any value this package decodes from a scalar, including the
// scalar types, from text.
func setText(v reflect.Value, text string) error {
	if isScalar(v.Type()) {
		return v.Addr().Interface().(scalar).parseScalar(text)
	}
	return setScalar(v, text)
}

// suggest returns the field name closest to key, if close enough to be a typo.
func suggest(key string, fields map[string]field) string {
	best, bestD := "", 3
	for name := range fields {
		if dist := levenshtein(strings.ToLower(key), name); dist < bestD || dist == bestD && name < best {
			best, bestD = name, dist
		}
	}
	if bestD > 2 || bestD >= len(key) {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
