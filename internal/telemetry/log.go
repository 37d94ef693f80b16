package telemetry

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Sentinel errors of [NewLogger], for callers that map them to a config
// field.
var (
	ErrLogLevel  = errors.New("telemetry: unknown log level")
	ErrLogFormat = errors.New("telemetry: unknown log format")
)

// NewLogger returns a logger writing to w. level is debug, info, warn or
// error ("" means info); format is text or json ("" means text); both are
// case-insensitive. Other values wrap [ErrLogLevel] or [ErrLogFormat]. The
// logger is safe for concurrent use, as slog handlers are; w must be too if
// it is shared with other writers.
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "", "info":
		lv = slog.LevelInfo
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		return nil, fmt.Errorf("log level %q (want debug, info, warn or error): %w", level, ErrLogLevel)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q (want text or json): %w", format, ErrLogFormat)
}
