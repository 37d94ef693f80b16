package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/goccy/go-yaml"
)

const (
	schemaFile = "../../../docs/duohuo.schema.json"
	docsFile   = "../../../docs/configuration.md"
)

// TestGeneratedFilesAreCurrent fails when the config types changed without
// "go generate ./internal/config".
func TestGeneratedFilesAreCurrent(t *testing.T) {
	schema, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(schema, config.JSONSchema()) {
		t.Errorf("%s is stale: run go generate ./internal/config", schemaFile)
	}
	doc, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	want, err := withReference(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, want) {
		t.Errorf("the reference in %s is stale: run go generate ./internal/config", docsFile)
	}
}

func TestSchemaShape(t *testing.T) {
	var s struct {
		Schema     string                     `json:"$schema"`
		Additional *bool                      `json:"additionalProperties"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(config.JSONSchema(), &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	if s.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %q, want draft 2020-12", s.Schema)
	}
	if s.Additional == nil || *s.Additional {
		t.Errorf("top-level additionalProperties = %v, want false", s.Additional)
	}
	for _, section := range []string{"site", "log", "admin", "crypto", "metrics", "listeners", "services", "routes"} {
		if _, ok := s.Properties[section]; !ok {
			t.Errorf("schema has no %q section", section)
		}
	}
	// Every object in the schema refuses unknown keys, as Load does.
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["type"] == "object" && v["additionalProperties"] == nil {
				t.Errorf("%s: object without additionalProperties", path)
			}
			for k, c := range v {
				walk(path+"/"+k, c)
			}
		case []any:
			for _, c := range v {
				walk(path+"/[]", c)
			}
		}
	}
	var all any
	_ = json.Unmarshal(config.JSONSchema(), &all)
	walk("", all)
}

func TestWithReferenceNeedsMarkers(t *testing.T) {
	for _, doc := range []string{"# no markers\n", "# only begin\n" + beginMarker + "\n"} {
		if _, err := withReference([]byte(doc)); err == nil || !strings.Contains(err.Error(), "marker") {
			t.Errorf("withReference(%q) error = %v; want one naming the missing marker", doc, err)
		}
	}
}

// TestExamplesMatchSchema checks the schema against the examples with a small
// validator for the keywords the generator emits: every valid example must
// pass, and bad.yaml's unknown key and out-of-range value must not.
func TestExamplesMatchSchema(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(config.JSONSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"minimal.yaml", "multi-cloud.yaml", "dns.yaml"} {
		doc := readYAML(t, "../../../examples/"+name)
		if errs := validate(schema, doc, ""); len(errs) > 0 {
			t.Errorf("examples/%s does not match the schema:\n%s", name, strings.Join(errs, "\n"))
		}
	}
	errs := validate(schema, readYAML(t, "../../../examples/bad.yaml"), "")
	for _, want := range []string{"/services/0/helth: unknown key", "/routes/0/retry/attempts: above maximum", "/log/level: not in enum"} {
		found := false
		for _, e := range errs {
			found = found || strings.HasPrefix(e, want)
		}
		if !found {
			t.Errorf("schema does not flag %q in examples/bad.yaml; it says:\n%s", want, strings.Join(errs, "\n"))
		}
	}
}

func readYAML(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.UnmarshalWithOptions(data, &v, yaml.AllowDuplicateMapKey()); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// validate checks v against the subset of JSON Schema 2020-12 that
// config.JSONSchema emits, returning "path: problem" lines.
func validate(s map[string]any, v any, path string) []string {
	var errs []string
	fail := func(p, format string, args ...any) { errs = append(errs, p+": "+fmt.Sprintf(format, args...)) }
	if anyOf, ok := s["anyOf"].([]any); ok {
		for _, alt := range anyOf {
			if len(validate(alt.(map[string]any), v, path)) == 0 {
				return nil
			}
		}
		fail(path, "matches no alternative of anyOf: %v", v)
		return errs
	}
	switch want := s["type"]; want {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			fail(path, "want object, got %T", v)
			return errs
		}
		props, _ := s["properties"].(map[string]any)
		patterns, _ := s["patternProperties"].(map[string]any)
		for k, val := range m {
			if p, ok := props[k]; ok {
				errs = append(errs, validate(p.(map[string]any), val, path+"/"+k)...)
				continue
			}
			matched := false
			for re := range patterns {
				matched = matched || regexp.MustCompile(re).MatchString(k)
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap && !matched {
					fail(path+"/"+k, "unknown key")
				}
			case map[string]any:
				errs = append(errs, validate(ap, val, path+"/"+k)...)
			}
		}
		for _, r := range asSlice(s["required"]) {
			if _, ok := m[r.(string)]; !ok {
				fail(path, "missing %s", r)
			}
		}
		if n, ok := s["maxProperties"].(float64); ok && float64(len(m)) > n {
			fail(path, "more than %v keys", n)
		}
		if n, ok := s["minProperties"].(float64); ok && float64(len(m)) < n {
			fail(path, "fewer than %v keys", n)
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			fail(path, "want array, got %T", v)
			return errs
		}
		for i, it := range l {
			errs = append(errs, validate(s["items"].(map[string]any), it, fmt.Sprintf("%s/%d", path, i))...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			fail(path, "want string, got %T", v)
			return errs
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			fail(path, "%q does not match %s", str, p)
		}
	case "integer", "number":
		var f float64
		switch n := v.(type) {
		case uint64:
			f = float64(n)
		case int64:
			f = float64(n)
		case float64:
			f = n
		default:
			fail(path, "want %s, got %T", want, v)
			return errs
		}
		if want == "integer" && f != float64(int64(f)) {
			fail(path, "want integer, got %v", f)
		}
		if m, ok := s["minimum"].(float64); ok && f < m {
			fail(path, "below minimum %v", m)
		}
		if m, ok := s["maximum"].(float64); ok && f > m {
			fail(path, "above maximum %v", m)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail(path, "want boolean, got %T", v)
		}
	}
	if enum := asSlice(s["enum"]); enum != nil {
		found := false
		for _, e := range enum {
			found = found || e == v
		}
		if !found {
			fail(path, "not in enum %v: %v", enum, v)
		}
	}
	return errs
}

func asSlice(v any) []any { s, _ := v.([]any); return s }
