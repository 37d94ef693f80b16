package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/internal/config"
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
