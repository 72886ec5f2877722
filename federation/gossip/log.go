package gossip

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// refusalMark is in every error NotifyAlive returns, so that the adapter recognises
// memberlist's repeated report of it.
const refusalMark = "claims roster state"

// memberlistLogger returns the *log.Logger memberlist insists on, writing through l so
// that gossip logs share the node's slog handler, format and level. memberlist marks
// each line "[DEBUG]", "[INFO]", "[WARN]" or "[ERR]"; the mark becomes the slog level.
func memberlistLogger(l *slog.Logger) *log.Logger {
	return log.New(slogWriter{l: l}, "", 0)
}

type slogWriter struct{ l *slog.Logger }

var levelMarks = []struct {
	mark  string
	level slog.Level
}{
	{"[DEBUG] ", slog.LevelDebug},
	{"[INFO] ", slog.LevelInfo},
	{"[WARN] ", slog.LevelWarn},
	{"[ERR] ", slog.LevelError},
	{"[ERROR] ", slog.LevelError},
}

func (w slogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimRight(string(p), "\r\n")
	level := slog.LevelInfo
	for _, lm := range levelMarks {
		if rest, ok := strings.CutPrefix(msg, lm.mark); ok {
			msg, level = rest, lm.level
			break
		}
	}
	msg = strings.TrimPrefix(msg, "memberlist: ")
	if level > slog.LevelDebug && strings.HasPrefix(msg, "ignoring alive message for ") && strings.Contains(msg, refusalMark) {
		// memberlist repeats this for every announcement NotifyAlive refuses, on every
		// push/pull; the refusal was already logged once, with context, by NotifyAlive.
		level = slog.LevelDebug
	}
	w.l.Log(context.Background(), level, msg, "component", "memberlist")
	return len(p), nil
}
