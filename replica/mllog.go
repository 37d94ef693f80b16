package replica

import (
	"context"
	"log/slog"
	"strings"
)

// mlLog receives memberlist's log lines and passes them to the store's
// logger at the level of their prefix ([ERR], [WARN], [INFO], [DEBUG]), so
// that what an operator must see — messages our keys cannot decrypt,
// members suspected or declared dead — shows at the usual levels. It also
// counts those events (duohuo_replica_decrypt_failures_total,
// duohuo_replica_member_events_total) and tells the joiner which peer's
// messages could not be decrypted.
type mlLog struct{ g *gossip }

var mlLevels = []struct {
	prefix string
	level  slog.Level
}{
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
	{"[WARN]", slog.LevelWarn},
	{"[INFO]", slog.LevelInfo},
	{"[DEBUG]", slog.LevelDebug},
	{"[TRACE]", slog.LevelDebug},
}

func (w mlLog) Write(p []byte) (int, error) {
	for line := range strings.Lines(string(p)) {
		w.line(strings.TrimSpace(line))
	}
	return len(p), nil
}

func (w mlLog) line(line string) {
	if line == "" {
		return
	}
	level, msg := slog.LevelInfo, line // unprefixed lines are rare; show them
	for _, l := range mlLevels {
		if rest, ok := strings.CutPrefix(line, l.prefix); ok {
			level, msg = l.level, strings.TrimSpace(rest)
			break
		}
	}
	msg = strings.TrimPrefix(msg, "memberlist: ")
	m := w.g.s.metrics
	var attrs []any
	switch {
	case strings.Contains(msg, "no installed keys could decrypt"),
		strings.Contains(msg, "encryption is not configured"),
		strings.Contains(msg, "remote state is not encrypted"),
		strings.Contains(msg, "Decrypt packet failed"):
		m.decryptFailures.Inc()
		if i := strings.LastIndex(msg, "from="); i >= 0 {
			w.g.keyFailure(strings.Fields(msg[i+len("from="):] + " ")[0])
		}
		attrs = append(attrs, "hint", "the sending site's secret key is not among this site's keys (secret_key, old_keys)")
	case strings.HasPrefix(msg, "Suspect ") && strings.Contains(msg, "has failed"):
		m.memberEvents.WithLabelValues("suspect").Inc()
	case strings.HasPrefix(msg, "Marking ") && strings.Contains(msg, "as failed"):
		m.memberEvents.WithLabelValues("dead").Inc()
	}
	w.g.s.log.Log(context.Background(), level, "replica: memberlist: "+msg, attrs...)
}
