package config

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// field is what the struct tags of one configuration field say.
type field struct {
	name     string // yaml key
	index    []int
	typ      reflect.Type
	doc      string
	def      string   // default, in the file's syntax; "" for none
	enum     []string // allowed values; nil for any
	min, max string   // bounds in the file's syntax; "" for none
	required bool

	// Computed once per type from the tags above, so that decoding a
	// file of many sections does not parse the same tags for each one.
	defVal reflect.Value // the default as a value; invalid when def is ""
	lo, hi float64       // min and max as numbers
	scalar bool          // the type is written as one scalar with its own syntax
	nested bool          // the type is a struct whose fields have defaults of their own
}

// fields is what a struct type's tags say, computed once per type.
type fields struct {
	ordered []field          // declaration order
	byName  map[string]field // by yaml key
}

var fieldCache sync.Map // reflect.Type → *fields

func fieldInfo(t reflect.Type) *fields {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fields)
	}
	fs := &fields{ordered: parseFields(t), byName: map[string]field{}}
	for i := range fs.ordered {
		f := &fs.ordered[i]
		f.scalar = isScalar(f.typ)
		f.nested = f.typ.Kind() == reflect.Struct && !f.scalar
		if f.def != "" {
			v := reflect.New(f.typ).Elem()
			if err := setDefault(v, f.def); err != nil {
				panic(fmt.Sprintf("config: default of %s.%s: %v", t.Name(), f.name, err))
			}
			f.defVal = v
		}
		if f.min != "" {
			f.lo = bound(f.typ, f.min)
		}
		if f.max != "" {
			f.hi = bound(f.typ, f.max)
		}
	}
	for _, f := range fs.ordered {
		fs.byName[f.name] = f
	}
	fs2, _ := fieldCache.LoadOrStore(t, fs)
	return fs2.(*fields)
}

// fieldsOf returns the fields of struct type t by yaml key. The map is
// shared: callers must not modify it.
func fieldsOf(t reflect.Type) map[string]field { return fieldInfo(t).byName }

// orderedFields returns the fields of struct type t in declaration order.
// The slice is shared: callers must not modify it.
func orderedFields(t reflect.Type) []field { return fieldInfo(t).ordered }

func parseFields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !sf.IsExported() {
			continue
		}
		f := field{
			name:     name,
			index:    sf.Index,
			typ:      sf.Type,
			doc:      sf.Tag.Get("doc"),
			def:      sf.Tag.Get("default"),
			min:      sf.Tag.Get("min"),
			max:      sf.Tag.Get("max"),
			required: sf.Tag.Get("required") == "true",
		}
		if e := sf.Tag.Get("enum"); e != "" {
			f.enum = strings.Split(e, ",")
		}
		out = append(out, f)
	}
	return out
}

var scalarType = reflect.TypeFor[scalar]()

var scalarCache sync.Map // reflect.Type → bool

// isScalar reports whether values of type t are written as one scalar with
// their own syntax (a [scalar]).
func isScalar(t reflect.Type) bool {
	if b, ok := scalarCache.Load(t); ok {
		return b.(bool)
	}
	b := reflect.PointerTo(t).Implements(scalarType)
	scalarCache.Store(t, b)
	return b
}

// newDefault returns a pointer to a new value of type t with its defaults.
func newDefault(t reflect.Type) reflect.Value {
	p := reflect.New(t)
	applyDefaults(p.Elem())
	return p
}

// applyDefaults sets the fields of struct v that have a default tag, and
// recurses into nested sections. Optional sections (pointers) and lists stay
// empty. The tags are fixed at compile time and checked by TestDefaults, so
// a bad default is a programming error and panics.
func applyDefaults(v reflect.Value) {
	if v.Kind() != reflect.Struct || isScalar(v.Type()) {
		return
	}
	for _, f := range orderedFields(v.Type()) {
		switch {
		case f.defVal.IsValid():
			fv := v.Field(f.index[0])
			if len(f.index) > 1 {
				fv = v.FieldByIndex(f.index)
			}
			if f.defVal.Kind() == reflect.Slice {
				// Each section gets its own copy: a list is not shared.
				s := reflect.MakeSlice(f.typ, f.defVal.Len(), f.defVal.Len())
				reflect.Copy(s, f.defVal)
				fv.Set(s)
			} else {
				fv.Set(f.defVal)
			}
		case f.nested:
			applyDefaults(v.FieldByIndex(f.index))
		}
	}
}

// setDefault sets v from a default tag: a scalar, or "[a,b]" for a list.
func setDefault(v reflect.Value, def string) error {
	if v.Kind() != reflect.Slice {
		return setText(v, def)
	}
	items := strings.Split(strings.TrimSuffix(strings.TrimPrefix(def, "["), "]"), ",")
	s := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, it := range items {
		if err := setText(s.Index(i), strings.TrimSpace(it)); err != nil {
			return err
		}
	}
	v.Set(s)
	return nil
}
