package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// checker validates a decoded Config: first what the struct tags say
// (required, enum, min, max), then each section's validate method, which
// checks what involves more than one field.
type checker struct {
	d      *decoder
	failed map[string]bool // paths that already have an error from decoding
}

// validator is implemented by sections with checks beyond their tags. path is
// where the section is written, e.g. "routes[2]".
type validator interface {
	validate(c *checker, path string)
}

// errorf reports a problem with the value at path, unless decoding that value
// already failed (its error says more).
func (c *checker) errorf(path, format string, args ...any) {
	if c.failed == nil {
		c.failed = map[string]bool{}
		for _, e := range c.d.errs {
			c.failed[e.Path] = true
		}
	}
	if c.failed[path] {
		return
	}
	c.d.errorf(path, format, args...)
}

// written reports whether path was written in the file.
func (c *checker) written(path string) bool {
	_, ok := c.d.place(path)
	return ok
}

// walk checks v, written at path, and what it holds. path is a buffer that
// walk appends to and gives back as it was: a path is made a string only
// for an error or a validate method, not for each of the file's values.
func (c *checker) walk(path []byte, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			c.walk(path, v.Elem())
		}
		return
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := range v.Len() {
				c.walk(appendIndex(path, i), v.Index(i))
			}
		}
		return
	case reflect.Struct:
	default:
		return
	}
	if isScalar(v.Type()) {
		return
	}
	for _, f := range orderedFields(v.Type()) {
		fv := v.FieldByIndex(f.index)
		p := appendKey(path, f.name)
		c.checkTags(p, &f, fv)
		if f.nested || fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Slice {
			c.walk(p, fv)
		}
	}
	if val, ok := v.Addr().Interface().(validator); ok {
		val.validate(c, string(path))
	}
}

func (c *checker) checkTags(path []byte, f *field, v reflect.Value) {
	if f.required && (v.IsZero() || v.Kind() == reflect.Slice && v.Len() == 0) {
		p := string(path)
		if c.written(p) {
			c.errorf(p, "must not be empty")
		} else {
			c.errorf(p, "is required")
		}
		return
	}
	if f.enum != nil {
		check := func(p []byte, s string) {
			if !slices.Contains(f.enum, s) {
				c.errorf(string(p), "%q is not one of %s", s, strings.Join(f.enum, ", "))
			}
		}
		switch v.Kind() {
		case reflect.String:
			check(path, v.String())
		case reflect.Slice:
			for i := range v.Len() {
				check(appendIndex(path, i), v.Index(i).String())
			}
		}
	}
	if f.min == "" && f.max == "" {
		return
	}
	n, ok := numberOf(v)
	if !ok {
		return
	}
	lo, hi := f.lo, f.hi
	switch {
	case f.min != "" && f.max != "" && (n < lo || n > hi):
		c.errorf(string(path), "must be between %s and %s", f.min, f.max)
	case f.min != "" && f.max == "" && n < lo:
		c.errorf(string(path), "must be at least %s", f.min)
	case f.max != "" && f.min == "" && n > hi:
		c.errorf(string(path), "must be at most %s", f.max)
	}
}

// numberOf returns v as a number for range checks.
func numberOf(v reflect.Value) (float64, bool) {
	if isScalar(v.Type()) {
		return v.Addr().Interface().(scalar).number(), true
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int()), true
	case reflect.Float32, reflect.Float64:
		return v.Float(), true
	}
	return 0, false
}

// bound parses a min or max tag with the syntax of type t. The tags are
// fixed at compile time and checked by TestDefaults.
func bound(t reflect.Type, tag string) float64 {
	b := reflect.New(t).Elem()
	if err := setText(b, tag); err != nil {
		panic(fmt.Sprintf("config: bound %q of %s: %v", tag, t, err))
	}
	n, _ := numberOf(b)
	return n
}

// appendKey appends ".key" to path (key alone at the top).
func appendKey(path []byte, key string) []byte {
	if len(path) > 0 {
		path = append(path, '.')
	}
	return append(path, key...)
}

// appendIndex appends "[i]" to path.
func appendIndex(path []byte, i int) []byte {
	path = append(path, '[')
	path = strconv.AppendInt(path, int64(i), 10)
	return append(path, ']')
}
