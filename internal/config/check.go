package config

import (
	"fmt"
	"reflect"
	"slices"
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

// warnf reports a setting at path that is valid but does not do what its
// documentation says yet. Warnings do not make the file invalid.
func (c *checker) warnf(path, format string, args ...any) {
	p := c.d.placeOf(path)
	c.d.warns = append(c.d.warns, &Error{File: c.d.file, Line: p.line, Col: p.col, Path: path, Msg: "warning: " + fmt.Sprintf(format, args...)})
}

// written reports whether path was written in the file.
func (c *checker) written(path string) bool {
	_, ok := c.d.places[path]
	return ok
}

func (c *checker) walk(path string, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			c.walk(path, v.Elem())
		}
		return
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := range v.Len() {
				c.walk(fmt.Sprintf("%s[%d]", path, i), v.Index(i))
			}
		}
		return
	case reflect.Struct:
	default:
		return
	}
	if _, ok := v.Addr().Interface().(scalar); ok {
		return
	}
	for _, f := range orderedFields(v.Type()) {
		fv := v.FieldByIndex(f.index)
		p := join(path, f.name)
		c.checkTags(p, f, fv)
		c.walk(p, fv)
	}
	if val, ok := v.Addr().Interface().(validator); ok {
		val.validate(c, path)
	}
}

func (c *checker) checkTags(path string, f field, v reflect.Value) {
	if f.required && v.IsZero() || f.required && v.Kind() == reflect.Slice && v.Len() == 0 {
		if c.written(path) {
			c.errorf(path, "must not be empty")
		} else {
			c.errorf(path, "is required")
		}
		return
	}
	if f.enum != nil {
		check := func(p, s string) {
			if !slices.Contains(f.enum, s) {
				c.errorf(p, "%q is not one of %s", s, strings.Join(f.enum, ", "))
			}
		}
		switch v.Kind() {
		case reflect.String:
			check(path, v.String())
		case reflect.Slice:
			for i := range v.Len() {
				check(fmt.Sprintf("%s[%d]", path, i), v.Index(i).String())
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
	lo, hi := bound(v, f.min), bound(v, f.max)
	switch {
	case f.min != "" && f.max != "" && (n < lo || n > hi):
		c.errorf(path, "must be between %s and %s", f.min, f.max)
	case f.min != "" && f.max == "" && n < lo:
		c.errorf(path, "must be at least %s", f.min)
	case f.max != "" && f.min == "" && n > hi:
		c.errorf(path, "must be at most %s", f.max)
	}
}

// numberOf returns v as a number for range checks.
func numberOf(v reflect.Value) (float64, bool) {
	if s, ok := v.Addr().Interface().(scalar); ok {
		return s.number(), true
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int()), true
	case reflect.Float32, reflect.Float64:
		return v.Float(), true
	}
	return 0, false
}

// bound parses a min or max tag with the syntax of v's type. The tags are
// fixed at compile time and checked by TestDefaults.
func bound(v reflect.Value, tag string) float64 {
	if tag == "" {
		return 0
	}
	b := reflect.New(v.Type()).Elem()
	if err := setText(b, tag); err != nil {
		panic(fmt.Sprintf("config: bound %q of %s: %v", tag, v.Type(), err))
	}
	n, _ := numberOf(b)
	return n
}
