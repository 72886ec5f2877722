package transport

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// LevelTrace is the slog level of raft's trace messages. It is below slog.LevelDebug, so a
// handler set to Debug hides raft's per-RPC chatter unless asked for it.
const LevelTrace = slog.LevelDebug - 4

// HCLog returns an hclog.Logger, the logger raft and its transport want, that writes
// through l's handler: one slog handler then sets one format and level for the node and
// for raft. name is recorded as the "logger" attribute (Named extends it with a dot).
// Levels are the handler's; SetLevel can only raise the threshold further. A nil l
// discards.
func HCLog(l *slog.Logger, name string) hclog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &hcLogger{l: l, name: name, level: new(atomic.Int32)}
}

// hcLogger adapts *slog.Logger to hclog.Logger. Loggers derived with With and Named share
// the level set by SetLevel, as hclog's own do by default.
type hcLogger struct {
	l       *slog.Logger
	name    string
	implied []any
	level   *atomic.Int32 // an hclog.Level; NoLevel leaves the decision to the handler
}

// slogLevel maps hclog's levels onto slog's; ok is false for Off.
func slogLevel(level hclog.Level) (slog.Level, bool) {
	switch level {
	case hclog.Trace:
		return LevelTrace, true
	case hclog.Debug:
		return slog.LevelDebug, true
	case hclog.Warn:
		return slog.LevelWarn, true
	case hclog.Error:
		return slog.LevelError, true
	case hclog.Off:
		return 0, false
	default: // Info and NoLevel
		return slog.LevelInfo, true
	}
}

func (h *hcLogger) enabled(level hclog.Level) bool {
	if level == hclog.Off {
		return false
	}
	if floor := hclog.Level(h.level.Load()); floor != hclog.NoLevel && level != hclog.NoLevel && level < floor {
		return false
	}
	sl, _ := slogLevel(level)
	return h.l.Enabled(context.Background(), sl)
}

// emit writes one record. pcSkip counts the frames above emit up to the caller of the
// exported method, so that a handler with AddSource names raft's code, not this adapter.
func (h *hcLogger) emit(level hclog.Level, msg string, args []any, pcSkip int) {
	if !h.enabled(level) {
		return
	}
	sl, _ := slogLevel(level)
	var pc uintptr
	if pcSkip > 0 {
		var pcs [1]uintptr
		runtime.Callers(pcSkip+2, pcs[:]) // +2: runtime.Callers and emit
		pc = pcs[0]
	}
	r := slog.NewRecord(time.Now(), sl, msg, pc)
	if h.name != "" {
		r.AddAttrs(slog.String("logger", h.name))
	}
	r.Add(args...)
	_ = h.l.Handler().Handle(context.Background(), r)
}

// Log writes msg at level with key/value args.
func (h *hcLogger) Log(level hclog.Level, msg string, args ...any) { h.emit(level, msg, args, 1) }

// Trace writes msg at LevelTrace.
func (h *hcLogger) Trace(msg string, args ...any) { h.emit(hclog.Trace, msg, args, 1) }

// Debug writes msg at slog.LevelDebug.
func (h *hcLogger) Debug(msg string, args ...any) { h.emit(hclog.Debug, msg, args, 1) }

// Info writes msg at slog.LevelInfo.
func (h *hcLogger) Info(msg string, args ...any) { h.emit(hclog.Info, msg, args, 1) }

// Warn writes msg at slog.LevelWarn.
func (h *hcLogger) Warn(msg string, args ...any) { h.emit(hclog.Warn, msg, args, 1) }

// Error writes msg at slog.LevelError.
func (h *hcLogger) Error(msg string, args ...any) { h.emit(hclog.Error, msg, args, 1) }

// IsTrace reports whether trace messages would be written.
func (h *hcLogger) IsTrace() bool { return h.enabled(hclog.Trace) }

// IsDebug reports whether debug messages would be written.
func (h *hcLogger) IsDebug() bool { return h.enabled(hclog.Debug) }

// IsInfo reports whether info messages would be written.
func (h *hcLogger) IsInfo() bool { return h.enabled(hclog.Info) }

// IsWarn reports whether warnings would be written.
func (h *hcLogger) IsWarn() bool { return h.enabled(hclog.Warn) }

// IsError reports whether errors would be written.
func (h *hcLogger) IsError() bool { return h.enabled(hclog.Error) }

// ImpliedArgs returns the key/value pairs added with With.
func (h *hcLogger) ImpliedArgs() []any { return append([]any(nil), h.implied...) }

// With returns a logger that adds args to every record.
func (h *hcLogger) With(args ...any) hclog.Logger {
	c := *h
	c.l = h.l.With(args...)
	c.implied = append(append([]any(nil), h.implied...), args...)
	return &c
}

// Name returns the logger's name.
func (h *hcLogger) Name() string { return h.name }

// Named returns a logger whose name is this one's extended with name.
func (h *hcLogger) Named(name string) hclog.Logger {
	c := *h
	if h.name != "" && name != "" {
		c.name = h.name + "." + name
	} else if name != "" {
		c.name = name
	}
	return &c
}

// ResetNamed returns a logger named name.
func (h *hcLogger) ResetNamed(name string) hclog.Logger {
	c := *h
	c.name = name
	return &c
}

// SetLevel sets a minimum level on top of the handler's, for this logger and those derived
// from it; NoLevel leaves the decision to the handler alone.
func (h *hcLogger) SetLevel(level hclog.Level) { h.level.Store(int32(level)) }

// GetLevel returns the lowest level that would be written.
func (h *hcLogger) GetLevel() hclog.Level {
	for _, level := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if h.enabled(level) {
			return level
		}
	}
	return hclog.Off
}

// StandardLogger returns a *log.Logger that writes through this logger, for libraries that
// want one.
func (h *hcLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

// StandardWriter returns an io.Writer whose every write becomes one record, at the level
// opts says: ForceLevel, or the "[LEVEL]" prefix with InferLevels, else Info.
func (h *hcLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	if opts == nil {
		opts = &hclog.StandardLoggerOptions{}
	}
	return &stdWriter{h: h, opts: *opts}
}

// stdWriter turns lines written by a *log.Logger into records.
type stdWriter struct {
	h    *hcLogger
	opts hclog.StandardLoggerOptions
}

// Write logs p as one record.
func (w *stdWriter) Write(p []byte) (int, error) {
	msg := string(bytes.TrimRight(p, " \t\r\n"))
	level := hclog.Info
	if w.opts.ForceLevel != hclog.NoLevel {
		level = w.opts.ForceLevel
		_, msg = splitLevel(msg, w.opts.InferLevelsWithTimestamp)
	} else if w.opts.InferLevels {
		level, msg = splitLevel(msg, w.opts.InferLevelsWithTimestamp)
	}
	w.h.emit(level, msg, nil, 0)
	return len(p), nil
}

// levelPrefixes are the prefixes hclog's standard logger adapter recognises.
var levelPrefixes = []struct {
	prefix string
	level  hclog.Level
}{
	{"[TRACE]", hclog.Trace},
	{"[DEBUG]", hclog.Debug},
	{"[INFO]", hclog.Info},
	{"[WARN]", hclog.Warn},
	{"[ERROR]", hclog.Error},
	{"[ERR]", hclog.Error},
}

// splitLevel finds a "[LEVEL]" prefix in msg (after a timestamp, if skipTimestamp) and
// returns its level and the rest of the message; Info and msg if there is none.
func splitLevel(msg string, skipTimestamp bool) (hclog.Level, string) {
	rest := msg
	if skipTimestamp {
		if i := strings.Index(msg, "["); i > 0 {
			rest = msg[i:]
		}
	}
	for _, p := range levelPrefixes {
		if after, ok := strings.CutPrefix(rest, p.prefix); ok {
			return p.level, strings.TrimLeft(after, " ")
		}
	}
	return hclog.Info, msg
}
