package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// maxNodes bounds the values decoded from one file, so that aliases that
// expand exponentially ("billion laughs") are refused instead of exhausting
// memory.
const maxNodes = 100_000

// place is a 1-based line and column.
type place struct{ line, col int }

// decoder turns a YAML AST into typed structs, collecting every error with its
// place rather than stopping at the first, and remembering where each key path
// was written so that later checks can point at it.
type decoder struct {
	file    string
	dir     string // against which checks resolve relative paths; "" for the working directory
	lookup  func(string) (string, bool)
	errs    Errors
	warns   Errors           // valid settings that do not do what they say yet
	places  map[string]place // key path → where its value (or, for sections, its key) is written
	anchors map[string]ast.Node
	nodes   int
}

func newDecoder(file string, lookup func(string) (string, bool)) *decoder {
	return &decoder{file: file, lookup: lookup, places: map[string]place{}, anchors: map[string]ast.Node{}}
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
		if pl, ok := d.places[p]; ok {
			return pl
		}
	}
	return place{1, 1}
}

// parentPath returns "a.b" for "a.b.c" and "a.b" for "a.b[2]".
func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// placeOfNode returns where n starts: for a mapping, its first key rather
// than goccy's token (the first ':').
func placeOfNode(n ast.Node) place {
	switch m := n.(type) {
	case nil:
		return place{1, 1}
	case *ast.MappingNode:
		if len(m.Values) > 0 && m.Values[0].Key != nil && !m.IsFlowStyle {
			return placeOfNode(m.Values[0].Key)
		}
	case *ast.MappingValueNode:
		if m.Key != nil {
			return placeOfNode(m.Key)
		}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return place{1, 1}
	}
	return place{tk.Position.Line, tk.Position.Column}
}

// parseDocument parses data and decodes its single document into the struct
// that ptr points to.
func (d *decoder) parseDocument(data []byte, ptr reflect.Value) {
	f, err := parseYAML(data)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil && ye.GetToken().Position != nil {
			pos := ye.GetToken().Position
			msg := ye.GetMessage()
			if strings.Contains(msg, "'\t'") {
				msg = "a tab cannot indent YAML; use spaces"
			}
			d.errorAt(place{pos.Line, pos.Column}, "", "yaml: %s", msg)
		} else {
			d.errorAt(place{}, "", "yaml: %v", err)
		}
		return
	}
	var body ast.Node
	for _, doc := range f.Docs {
		b := doc.Body
		if _, ok := b.(*ast.CommentGroupNode); ok {
			b = nil
		}
		if b == nil {
			continue
		}
		if body != nil {
			d.errorAt(placeOfNode(b), "", "a configuration file holds one YAML document; remove the --- separator")
			return
		}
		body = b
	}
	if body == nil {
		return // an empty file: all defaults
	}
	d.decode("", body, ptr.Elem())
}

// extensionPrefix starts top-level keys that the decoder ignores, so that a
// file can hold YAML anchors to reuse (as in Docker Compose).
const extensionPrefix = "x-"

// anchorCollector records every anchor under a node.
type anchorCollector map[string]ast.Node

func (a anchorCollector) Visit(n ast.Node) ast.Visitor {
	if an, ok := n.(*ast.AnchorNode); ok && an.Name != nil {
		a[an.Name.String()] = an.Value
	}
	return a
}

// parseYAML calls goccy/go-yaml's parser, turning a panic into an error:
// fuzzing (here and in discovery/static) found inputs on which v1.19.2
// dereferences nil, and a bad file must be refused, never crash the gateway.
// Duplicate keys are allowed by the parser so that the decoder reports them
// all, with the rest of the file's errors.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed on this file (%v); check its syntax", r)
		}
	}()
	return parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
}

// resolve follows anchors, aliases and tags to the node that holds the value.
func (d *decoder) resolve(n ast.Node) ast.Node {
	for range 64 {
		switch m := n.(type) {
		case *ast.AnchorNode:
			if m.Name != nil {
				d.anchors[m.Name.String()] = m.Value
			}
			n = m.Value
		case *ast.AliasNode:
			if m.Value == nil {
				return nil
			}
			target, ok := d.anchors[m.Value.String()]
			if !ok {
				return nil
			}
			n = target
		case *ast.TagNode:
			n = m.Value
		case *ast.CommentGroupNode:
			return nil
		default:
			return n
		}
	}
	return nil
}

// decode sets v from node n written at path.
func (d *decoder) decode(path string, n ast.Node, v reflect.Value) {
	d.nodes++
	if d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.errorAt(placeOfNode(n), path, "too many values (more than %d); are aliases expanding?", maxNodes)
		}
		return
	}
	if a, ok := n.(*ast.AliasNode); ok {
		if d.resolve(a) == nil {
			d.errorAt(placeOfNode(n), path, "alias *%s refers to no anchor defined before it", a.Value)
			return
		}
	}
	n = d.resolve(n)
	if _, ok := n.(*ast.NullNode); ok || n == nil {
		// "key:" with no value keeps the default; an empty optional
		// section ("success_rate:") switches it on with its defaults.
		if v.Kind() == reflect.Pointer && v.IsNil() {
			v.Set(newDefault(v.Type().Elem()))
		}
		return
	}
	if s, ok := v.Addr().Interface().(scalar); ok {
		text, ok := d.scalarText(path, n)
		if ok {
			if err := s.parseScalar(text); err != nil {
				d.errorAt(placeOfNode(n), path, "%s", err.Error())
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
				d.errorAt(placeOfNode(n), path, "invalid boolean %q: write true or false, or the section's keys", text)
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
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.errorAt(placeOfNode(n), path, "want a list, got %s", kindOf(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.places[p] = placeOfNode(d.resolve(item))
			applyDefaults(s.Index(i))
			d.decode(p, item, s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		d.decodeMap(path, n, v)
	default:
		if text, ok := d.scalarText(path, n); ok {
			if err := setScalar(v, text); err != nil {
				d.errorAt(placeOfNode(n), path, "%s", err.Error())
			}
		}
	}
}

// entries returns the key/value pairs of a mapping node.
func entries(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

func (d *decoder) keyText(path string, k ast.MapKeyNode) (string, bool) {
	switch k := k.(type) {
	case *ast.StringNode:
		return k.Value, true
	case *ast.MappingKeyNode:
		d.errorAt(placeOfNode(k), path, "complex keys (?) are not supported")
		return "", false
	}
	if k == nil || k.GetToken() == nil {
		return "", false
	}
	return k.GetToken().Value, true
}

func (d *decoder) decodeStruct(path string, n ast.Node, v reflect.Value) {
	pairs, ok := entries(n)
	if !ok {
		d.errorAt(placeOfNode(n), path, "want a mapping of keys, got %s", kindOf(n))
		return
	}
	fields := fieldsOf(v.Type())
	// Merge keys ("<<: *defaults") first, so that keys written in this
	// mapping override what they bring.
	for _, kv := range pairs {
		if kv.Key != nil && kv.Key.IsMergeKey() {
			d.decodeStruct(path, d.resolve(kv.Value), v)
		}
	}
	seen := map[string]place{}
	for _, kv := range pairs {
		if kv.Key == nil || kv.Key.IsMergeKey() {
			continue
		}
		key, ok := d.keyText(path, kv.Key)
		if !ok {
			continue
		}
		kp := placeOfNode(kv.Key)
		p := join(path, key)
		if first, dup := seen[key]; dup {
			d.errorAt(kp, p, "duplicate key (first at line %d)", first.line)
			continue
		}
		seen[key] = kp
		if path == "" && strings.HasPrefix(key, extensionPrefix) {
			// An extension key holds anchors for the rest of the file;
			// its value is not configuration.
			if kv.Value != nil {
				ast.Walk(anchorCollector(d.anchors), kv.Value)
			}
			continue
		}
		f, ok := fields[key]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", key)
			if s := suggest(key, fields); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.errorAt(kp, p, "%s", msg)
			continue
		}
		val := d.resolve(kv.Value)
		if isCollection(val) || val == nil {
			d.places[p] = kp
		} else if _, null := val.(*ast.NullNode); null {
			d.places[p] = kp
		} else {
			d.places[p] = placeOfNode(val)
		}
		d.decode(p, kv.Value, v.FieldByIndex(f.index))
	}
}

func (d *decoder) decodeMap(path string, n ast.Node, v reflect.Value) {
	pairs, ok := entries(n)
	if !ok {
		d.errorAt(placeOfNode(n), path, "want a mapping, got %s", kindOf(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(pairs))
	seen := map[string]place{}
	for _, kv := range pairs {
		if kv.Key == nil {
			continue
		}
		if kv.Key.IsMergeKey() {
			d.errorAt(placeOfNode(kv.Key), path, "merge keys (<<) are not supported here")
			continue
		}
		key, ok := d.keyText(path, kv.Key)
		if !ok {
			continue
		}
		kp := placeOfNode(kv.Key)
		p := join(path, key)
		if first, dup := seen[key]; dup {
			d.errorAt(kp, p, "duplicate key (first at line %d)", first.line)
			continue
		}
		seen[key] = kp
		d.places[p] = placeOfNode(d.resolve(kv.Value))
		ev := reflect.New(v.Type().Elem()).Elem()
		d.decode(p, kv.Value, ev)
		m.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), ev)
	}
	v.Set(m)
}

// scalarText returns the text of a scalar node after ${VAR} expansion.
func (d *decoder) scalarText(path string, n ast.Node) (string, bool) {
	var text string
	switch m := n.(type) {
	case *ast.StringNode:
		text = m.Value
	case *ast.LiteralNode:
		if m.Value != nil {
			text = m.Value.Value
		}
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		text = m.GetToken().Value
	default:
		d.errorAt(placeOfNode(n), path, "want a single value, got %s", kindOf(n))
		return "", false
	}
	out, err := expand(text, d.lookup)
	if err != nil {
		d.errorAt(placeOfNode(n), path, "%s", err.Error())
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

func isCollection(n ast.Node) bool {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		return true
	}
	return false
}

func kindOf(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case nil:
		return "nothing"
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
	if s, ok := v.Addr().Interface().(scalar); ok {
		return s.parseScalar(text)
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
