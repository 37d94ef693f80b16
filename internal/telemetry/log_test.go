package telemetry_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/internal/telemetry"
)

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name, level, format string
		wantDebug, wantInfo bool // whether a debug / info record is written
		wantJSON            bool
	}{
		{"defaults are info and text", "", "", false, true, false},
		{"debug shows debug records", "debug", "text", true, true, false},
		{"warn hides info records", "warn", "json", false, false, true},
		{"error hides info records", "error", "text", false, false, false},
		{"level and format are case-insensitive", "INFO", "JSON", false, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := telemetry.NewLogger(&buf, tc.level, tc.format)
			if err != nil {
				t.Fatalf("NewLogger(%q, %q) error: %v", tc.level, tc.format, err)
			}
			log.Debug("dbg-record")
			log.Info("info-record", "k", "v")
			out := buf.String()
			if got := strings.Contains(out, "dbg-record"); got != tc.wantDebug {
				t.Errorf("NewLogger(%q): debug record written = %v, want %v", tc.level, got, tc.wantDebug)
			}
			if got := strings.Contains(out, "info-record"); got != tc.wantInfo {
				t.Errorf("NewLogger(%q): info record written = %v, want %v", tc.level, got, tc.wantInfo)
			}
			if tc.wantInfo {
				line := strings.SplitN(strings.TrimSpace(out), "\n", 2)[0]
				isJSON := json.Valid([]byte(line))
				if isJSON != tc.wantJSON {
					t.Errorf("NewLogger(format %q) line %q: JSON = %v, want %v", tc.format, line, isJSON, tc.wantJSON)
				}
			}
		})
	}
}

func TestNewLoggerRejectsBadValues(t *testing.T) {
	tests := []struct {
		name, level, format string
		want                error
	}{
		{"unknown level", "verbose", "text", telemetry.ErrLogLevel},
		{"warning is not a level name", "warning", "text", telemetry.ErrLogLevel},
		{"unknown format", "info", "logfmt", telemetry.ErrLogFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := telemetry.NewLogger(&bytes.Buffer{}, tc.level, tc.format)
			if !errors.Is(err, tc.want) {
				t.Errorf("NewLogger(%q, %q) error = %v, want %v", tc.level, tc.format, err, tc.want)
			}
		})
	}
}
