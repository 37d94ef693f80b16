package static

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"slices"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/internal/yamlsplit"
)

// Errors that a [*ParseError] wraps besides the discovery validation
// sentinels (discovery.ErrInvalidAddr, ErrInvalidWeight, ErrInvalidField,
// ErrInvalidService, ErrDuplicate).
var (
	// ErrSyntax means the file is not valid YAML (or JSON), or does not
	// have the instances file's shape (an unknown field, a wrong type).
	ErrSyntax = errors.New("static: syntax error")
	// ErrEmpty means the file is empty or holds only comments. An empty
	// file is refused rather than read as "no instances", so that a file
	// caught between truncate and write never empties a service; write
	// "services: {}" to remove every service on purpose.
	ErrEmpty = errors.New("static: empty file")
)

// ParseError is a refused instances file, with the position of the fault.
type ParseError struct {
	File string // as given to Parse
	Line int    // 1-based
	Col  int    // 1-based
	Err  error  // wraps ErrSyntax, ErrEmpty or a discovery validation sentinel
}

// Error returns "file:line:col: message".
func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Col, e.Err)
}

// Unwrap returns the cause.
func (e *ParseError) Unwrap() error { return e.Err }

// fileDoc is the instances file: a list of instances per service, or one
// service's list.
type fileDoc struct {
	Services  map[string][]fileInstance `yaml:"services"`
	Instances *[]fileInstance           `yaml:"instances"`
}

type fileInstance struct {
	ID       string            `yaml:"id"`
	Addr     string            `yaml:"addr"`
	Weight   *int64            `yaml:"weight"` // nil: discovery.DefaultWeight
	Cloud    string            `yaml:"cloud"`
	Region   string            `yaml:"region"`
	Zone     string            `yaml:"zone"`
	Labels   map[string]string `yaml:"labels"`
	Metadata map[string]string `yaml:"metadata"`
}

// Parse reads an instances file (YAML, or JSON, which is YAML) and returns
// its instances per service, each validated as [discovery.Instance.Validate]
// does, with IDs left empty unless given. name is used in errors only. Parse
// is a pure function, safe for concurrent use.
//
// The file lists the instances of several services under "services", with
// every field but addr optional:
//
//	services:
//	  api:                        # service name
//	    - addr: 10.0.0.1:8080     # IP:port or [IPv6]:port, no host names
//	      weight: 100             # 0 (drained) to 65535; default 100
//	      cloud: ctyun
//	      region: cn-north-1
//	      zone: cn-north-1a
//	      labels: {version: v2, lane: gray}   # what gray rules select on
//	      metadata: {owner: team-a}            # shown, never routed on
//	      id: api-1               # default: the address
//
// or, when service is not empty, the instances of that one service under
// "instances" (the form the gateway config's file source names):
//
//	instances:
//	  - addr: 10.0.0.1:8080
//
// With a service and a "services" file, only that service is returned (the
// whole file is still checked), and a file without it is refused, so that a
// misspelt name is not read as "no instances".
//
// A refused file yields a [*ParseError] naming file:line:col.
func Parse(name string, data []byte, service string) (map[string][]discovery.Instance, error) {
	return parse(name, data, service, defaultSplitting)
}

// splitting says when an "instances" file is read in pieces (see
// parseInPieces): from minSize bytes, runItems instances at a time.
type splitting struct{ minSize, runItems int }

// A file of 256 KiB holds some 3,000 instances; below that one parse is
// simplest.
var defaultSplitting = splitting{minSize: 256 << 10, runItems: 512}

func parse(name string, data []byte, service string, sp splitting) (map[string][]discovery.Instance, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &ParseError{File: name, Line: 1, Col: 1, Err: ErrEmpty}
	}
	if service != "" && len(data) >= sp.minSize && discovery.CheckService(service) == nil {
		if list, ok := parseInPieces(data, sp.runItems); ok {
			return map[string][]discovery.Instance{service: list}, nil
		}
	}
	f, err := parseYAML(data)
	if err != nil {
		return nil, yamlError(name, err)
	}
	var body ast.Node
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if body != nil {
			return nil, at(name, d.Body, fmt.Errorf("%w: more than one document", ErrSyntax))
		}
		body = d.Body
	}
	if body == nil {
		return nil, &ParseError{File: name, Line: 1, Col: 1, Err: ErrEmpty}
	}
	var doc fileDoc
	if err := decode(body, &doc); err != nil {
		return nil, yamlError(name, err)
	}
	root := func() *yaml.PathBuilder { return (&yaml.PathBuilder{}).Root() }
	switch {
	case doc.Services != nil && doc.Instances != nil:
		return nil, at(name, body, fmt.Errorf(`%w: both "services" and "instances"; use one`, ErrSyntax))
	case doc.Instances != nil && service == "":
		return nil, at(name, lookup(f, root().Child("instances").Build()),
			fmt.Errorf(`%w: "instances" lists one service, but no service name was given; use "services" to list several`, ErrSyntax))
	case doc.Instances != nil:
		if err := discovery.CheckService(service); err != nil {
			return nil, &ParseError{File: name, Line: 1, Col: 1, Err: err}
		}
		list, errs := convert(name, f, service, *doc.Instances, func() *yaml.PathBuilder { return root().Child("instances") })
		if len(errs) > 0 {
			return nil, first(errs)
		}
		return map[string][]discovery.Instance{service: list}, nil
	case doc.Services == nil:
		return nil, at(name, body, fmt.Errorf(`%w: missing "services" (write "services: {}" for none)`, ErrSyntax))
	}

	out := make(map[string][]discovery.Instance, len(doc.Services))
	var errs []*ParseError
	for svc, list := range doc.Services {
		if err := discovery.CheckService(svc); err != nil {
			errs = append(errs, at(name, lookup(f, root().Child("services").Child(svc).Build()), err))
			continue
		}
		ins, ierrs := convert(name, f, svc, list, func() *yaml.PathBuilder { return root().Child("services").Child(svc) })
		errs = append(errs, ierrs...)
		out[svc] = ins
	}
	if len(errs) > 0 {
		return nil, first(errs)
	}
	if service != "" {
		list, ok := out[service]
		if !ok {
			return nil, at(name, lookup(f, root().Child("services").Build()),
				fmt.Errorf("%w: service %q is not in the file", discovery.ErrInvalidService, service))
		}
		return map[string][]discovery.Instance{service: list}, nil
	}
	return out, nil
}

// parseInPieces reads a valid "instances" file run by run of its list
// (internal/yamlsplit), so that the syntax tree of only a few runs is in
// memory at a time: goccy's takes about 60 bytes per byte of the file, 600
// MB for 100,000 instances. It reports false for any other shape and for
// any fault, and Parse then reads the file whole and says what is wrong.
func parseInPieces(data []byte, runItems int) ([]discovery.Instance, bool) {
	pieces, ok := yamlsplit.Split(data, runItems)
	if !ok || len(pieces) < 2 || pieces[0].Kind != yamlsplit.Header {
		return nil, false
	}
	for _, p := range pieces[1:] {
		if p.Kind != yamlsplit.Items {
			return nil, false
		}
	}
	workers := runtime.GOMAXPROCS(0)
	ahead := yamlsplit.NewAhead(pieces, workers, 2*workers, func(p yamlsplit.Piece) (yamlsplit.Parsed, error) { return p.Parse() })
	defer ahead.Close()
	head, err := ahead.Next()
	if err != nil || head.Pair.Key == nil || head.Pair.Key.String() != "instances" {
		return nil, false
	}
	n := pieces[0].Count
	ins := make([]discovery.Instance, 0, n)
	ids := make(map[string]bool, n)
	addrs := make(map[netip.AddrPort]bool, n)
	for range pieces[1:] {
		run, err := ahead.Next()
		if err != nil {
			return nil, false
		}
		for _, item := range run.Items {
			var fi fileInstance
			if !fastInstance(item, &fi) && decodeInstance(item, &fi) != nil {
				return nil, false
			}
			in, _, err := fi.instance()
			if err != nil {
				return nil, false
			}
			id := cmp.Or(in.ID, discovery.AddrID(in.Addr))
			key := netip.AddrPortFrom(in.Addr.Addr().Unmap().WithZone(""), in.Addr.Port())
			if addrs[key] || ids[id] {
				return nil, false
			}
			addrs[key], ids[id] = true, true
			ins = append(ins, in)
		}
	}
	return ins, len(ins) == n
}

// convert converts and checks one service's entries; base returns the
// path of the list, for positions.
func convert(name string, f *ast.File, svc string, list []fileInstance, base func() *yaml.PathBuilder) ([]discovery.Instance, []*ParseError) {
	ins := make([]discovery.Instance, 0, len(list))
	var errs []*ParseError
	ids := make(map[string]bool, len(list))
	addrs := make(map[netip.AddrPort]bool, len(list))
	for i, fi := range list {
		field := func(name string) ast.Node {
			p := base().Index(uint(i))
			if name != "" {
				p = p.Child(name)
			}
			return lookup(f, p.Build())
		}
		in, fieldName, err := fi.instance()
		if err == nil {
			id := cmp.Or(in.ID, discovery.AddrID(in.Addr))
			key := netip.AddrPortFrom(in.Addr.Addr().Unmap().WithZone(""), in.Addr.Port())
			switch {
			case addrs[key]:
				fieldName, err = "addr", fmt.Errorf("%w: address %s listed twice", discovery.ErrDuplicate, in.Addr)
			case ids[id]:
				fieldName, err = "id", fmt.Errorf("%w: id %q listed twice", discovery.ErrDuplicate, id)
			}
			addrs[key], ids[id] = true, true
		}
		if err != nil {
			n := field(fieldName)
			if n == nil {
				n = field("")
			}
			errs = append(errs, at(name, n, fmt.Errorf("service %q instance %d: %w", svc, i, err)))
			continue
		}
		ins = append(ins, in)
	}
	return ins, errs
}

// first returns the first error in file order (map order is random).
func first(errs []*ParseError) *ParseError {
	return slices.MinFunc(errs, func(x, y *ParseError) int {
		return cmp.Or(cmp.Compare(x.Line, y.Line), cmp.Compare(x.Col, y.Col), cmp.Compare(x.Err.Error(), y.Err.Error()))
	})
}

// instance converts and validates one entry; on error it names the field
// at fault ("" for the entry as a whole).
func (fi fileInstance) instance() (discovery.Instance, string, error) {
	if fi.Addr == "" {
		return discovery.Instance{}, "", fmt.Errorf("%w: missing addr", discovery.ErrInvalidAddr)
	}
	ap, err := netip.ParseAddrPort(fi.Addr)
	if err != nil {
		return discovery.Instance{}, "addr", fmt.Errorf("%w: %q is not IP:port", discovery.ErrInvalidAddr, fi.Addr)
	}
	w := int64(discovery.DefaultWeight)
	if fi.Weight != nil {
		w = *fi.Weight
	}
	if w < 0 || w > discovery.MaxWeight {
		return discovery.Instance{}, "weight", fmt.Errorf("%w: %d is outside 0..%d", discovery.ErrInvalidWeight, w, discovery.MaxWeight)
	}
	in := discovery.Instance{
		ID:       fi.ID,
		Addr:     ap,
		Weight:   uint32(w),
		Locality: discovery.Locality{Cloud: fi.Cloud, Region: fi.Region, Zone: fi.Zone},
		Labels:   fi.Labels,
		Metadata: fi.Metadata,
	}
	if err := in.Validate(); err != nil {
		f := ""
		if errors.Is(err, discovery.ErrInvalidAddr) {
			f = "addr"
		}
		return discovery.Instance{}, f, err
	}
	return in, "", nil
}

// yamlError turns a go-yaml error into a positioned ParseError.
func yamlError(name string, err error) *ParseError {
	pe := &ParseError{File: name, Line: 1, Col: 1, Err: fmt.Errorf("%w: %v", ErrSyntax, err)}
	var ye yaml.Error
	if errors.As(err, &ye) {
		pe.Err = fmt.Errorf("%w: %s", ErrSyntax, ye.GetMessage())
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			pe.Line, pe.Col = max(tk.Position.Line, 1), max(tk.Position.Column, 1)
		}
	}
	return pe
}

// lookup returns the node at p, or nil.
func lookup(f *ast.File, p *yaml.Path) ast.Node {
	n, err := p.FilterFile(f)
	if err != nil {
		return nil
	}
	return n
}

// at returns err positioned at n (1:1 when n is nil).
func at(name string, n ast.Node, err error) *ParseError {
	pe := &ParseError{File: name, Line: 1, Col: 1, Err: err}
	// A mapping's own token is its first ':'; point at its first key.
	switch m := n.(type) {
	case *ast.MappingNode:
		if len(m.Values) > 0 {
			n = m.Values[0].Key
		}
	case *ast.MappingValueNode:
		n = m.Key
	}
	if n != nil {
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			pe.Line, pe.Col = max(tk.Position.Line, 1), max(tk.Position.Column, 1)
		}
	}
	return pe
}

// parseYAML and decode call go-yaml, turning a panic into an error: fuzzing
// found inputs on which go-yaml v1.19.2 dereferences nil (for example a tag
// with no value inside a list, testdata/fuzz/FuzzParse/328f775da0c1e7ea), and
// a bad file must be refused, never crash the gateway.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer recoverInto(&err)
	return parser.ParseBytes(data, 0)
}

func decode(body ast.Node, doc *fileDoc) (err error) {
	defer recoverInto(&err)
	return yaml.NodeToValue(body, doc, yaml.DisallowUnknownField())
}

// fastInstance decodes the common shape of an entry, a mapping of known
// keys to plain strings and an integer weight, with labels and metadata
// mappings of strings, as go-yaml's decoder would and some ten times
// faster. It reports false, having set nothing that matters, for any other
// shape; decodeInstance then decodes the entry.
func fastInstance(n ast.Node, fi *fileInstance) bool {
	pairs, ok := mappingPairs(n)
	if !ok {
		return false
	}
	var seen uint8
	for _, kv := range pairs {
		k, ok := kv.Key.(*ast.StringNode)
		if !ok {
			return false
		}
		var bit uint8
		switch k.Value {
		case "id":
			bit, ok = 1, plainString(kv.Value, &fi.ID)
		case "addr":
			bit, ok = 2, plainString(kv.Value, &fi.Addr)
		case "cloud":
			bit, ok = 4, plainString(kv.Value, &fi.Cloud)
		case "region":
			bit, ok = 8, plainString(kv.Value, &fi.Region)
		case "zone":
			bit, ok = 16, plainString(kv.Value, &fi.Zone)
		case "weight":
			bit = 32
			i, isInt := kv.Value.(*ast.IntegerNode)
			if !isInt {
				return false
			}
			switch w := i.Value.(type) {
			case int64:
				fi.Weight = &w
			case uint64:
				if w > math.MaxInt64 {
					return false
				}
				v := int64(w)
				fi.Weight = &v
			default:
				return false
			}
		case "labels":
			bit, ok = 64, stringMap(kv.Value, &fi.Labels)
		case "metadata":
			bit, ok = 128, stringMap(kv.Value, &fi.Metadata)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
	return true
}

// mappingPairs returns the pairs of a mapping node.
func mappingPairs(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, len(m.Values) > 0
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

func plainString(n ast.Node, s *string) bool {
	v, ok := n.(*ast.StringNode)
	if ok {
		*s = v.Value
	}
	return ok
}

func stringMap(n ast.Node, m *map[string]string) bool {
	pairs, ok := mappingPairs(n)
	if !ok {
		return false
	}
	out := make(map[string]string, len(pairs))
	for _, kv := range pairs {
		k, ok := kv.Key.(*ast.StringNode)
		if !ok || !plainString(kv.Value, new(string)) {
			return false
		}
		if _, dup := out[k.Value]; dup {
			return false
		}
		out[k.Value] = kv.Value.(*ast.StringNode).Value
	}
	*m = out
	return true
}

func decodeInstance(n ast.Node, fi *fileInstance) (err error) {
	defer recoverInto(&err)
	return yaml.NodeToValue(n, fi, yaml.DisallowUnknownField())
}

func recoverInto(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("yaml library panic: %v", r)
	}
}
