package config

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

//go:generate go run ./gen -schema ../../docs/duohuo.schema.json -docs ../../docs/configuration.md

// SchemaID is the $id of the generated JSON Schema.
const SchemaID = "https://raw.githubusercontent.com/duohuo/duohuo/main/docs/duohuo.schema.json"

// JSONSchema returns the JSON Schema (draft 2020-12) of the configuration
// file, generated from the Go types and their tags: descriptions, defaults,
// enums, bounds, required keys, and additionalProperties false everywhere so
// that editors flag unknown keys as Load does. It is what
// docs/duohuo.schema.json holds. Safe for concurrent use.
func JSONSchema() []byte {
	s := schemaOf(reflect.TypeFor[Config]())
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = SchemaID
	s["title"] = "duohuo configuration"
	s["description"] = "Configuration of the duohuo gateway (duohuo serve). See docs/configuration.md."
	// Top-level keys starting with x- are ignored by Load: they hold anchors.
	s["patternProperties"] = map[string]any{"^x-": map[string]any{"description": "Ignored; a place for YAML anchors to reuse below."}}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic("config: encode schema: " + err.Error()) // only maps, strings and numbers
	}
	return b.Bytes()
}

// schemaOf returns the schema of a value of type t.
func schemaOf(t reflect.Type) map[string]any {
	if s, ok := reflect.New(t).Interface().(scalar); ok {
		return s.schema()
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := schemaOf(t.Elem())
		if isSection(t.Elem()) {
			// An optional section may be written true (on, with its
			// defaults) or false (off).
			s["type"] = []any{"object", "boolean"}
		}
		return s
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for _, f := range orderedFields(t) {
			props[f.name] = fieldSchema(f)
			if f.required {
				required = append(required, f.name)
			}
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if required != nil {
			s["required"] = required
		}
		if t == reflect.TypeFor[DiscoverySource]() {
			// Exactly one of static, file, dns.
			s["minProperties"], s["maxProperties"] = 1, 1
		}
		return s
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	}
	panic("config: no schema for " + t.String())
}

func fieldSchema(f field) map[string]any {
	s := schemaOf(f.typ)
	desc := f.doc
	if f.def != "" {
		s["default"] = jsonDefault(f.typ, f.def)
	}
	if f.enum != nil {
		enum := make([]any, len(f.enum))
		for i, e := range f.enum {
			enum[i] = e
		}
		if f.typ.Kind() == reflect.Slice {
			s["items"] = map[string]any{"type": "string", "enum": enum}
		} else {
			s["enum"] = enum
		}
	}
	_, isScalar := reflect.New(f.typ).Interface().(scalar)
	if isScalar {
		// Bounds of durations and sizes are written in their own syntax,
		// which a JSON Schema cannot compare: say them in words.
		switch {
		case f.min != "" && f.max != "":
			desc += " Between " + f.min + " and " + f.max + "."
		case f.min != "":
			desc += " At least " + f.min + "."
		case f.max != "":
			desc += " At most " + f.max + "."
		}
	} else {
		if f.min != "" {
			s["minimum"] = jsonNumber(f.min)
		}
		if f.max != "" {
			s["maximum"] = jsonNumber(f.max)
		}
	}
	if desc != "" {
		s["description"] = desc
	}
	return s
}

// jsonDefault converts a default tag to the JSON value an editor inserts.
func jsonDefault(t reflect.Type, def string) any {
	if t.Kind() == reflect.Slice {
		items := strings.Split(strings.TrimSuffix(strings.TrimPrefix(def, "["), "]"), ",")
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = jsonDefault(t.Elem(), strings.TrimSpace(it))
		}
		return out
	}
	if _, ok := reflect.New(t).Interface().(scalar); ok {
		if def == "true" || def == "false" {
			return def == "true"
		}
		if _, err := strconv.ParseInt(def, 10, 64); err == nil {
			return jsonNumber(def) // a status, a size in bytes
		}
		return def
	}
	switch t.Kind() {
	case reflect.Bool:
		return def == "true"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		return jsonNumber(def)
	}
	return def
}

func jsonNumber(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
