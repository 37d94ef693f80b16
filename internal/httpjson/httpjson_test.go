package httpjson_test

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
	"github.com/duohuo/duohuo/internal/httpjson"
)

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	httpjson.Write(rec, 201, map[string]int{"a": 1})
	if rec.Code != 201 || rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != "{\n  \"a\": 1\n}\n" {
		t.Errorf("Write = %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
}

func TestError(t *testing.T) {
	rec := httptest.NewRecorder()
	httpjson.Error(rec, 400, errors.New(`bad "x"`))
	if want := "{\n  \"error\": \"bad \\\"x\\\"\"\n}\n"; rec.Code != 400 || rec.Body.String() != want {
		t.Errorf("Error = %d %q, want 400 %q", rec.Code, rec.Body.String(), want)
	}
}

// TestDependencies: the pure packages (fault, gray) import httpjson.
func TestDependencies(t *testing.T) { deptest.Only(t) }
