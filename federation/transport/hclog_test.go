package transport

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestHCLogWritesThroughSlog(t *testing.T) {
	var buf syncBuffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true}))
	h := HCLog(l, "raft")

	if h.IsTrace() || !h.IsDebug() || !h.IsInfo() || h.GetLevel() != hclog.Debug {
		t.Errorf("levels: trace %v debug %v info %v, GetLevel %v; want the handler's (debug)", h.IsTrace(), h.IsDebug(), h.IsInfo(), h.GetLevel())
	}
	h.Trace("hidden trace")
	h.Debug("entering follower state", "follower", "FRA", "leader-id", "DEU")
	h.Named("net").With("peer", "ITA").Warn("failed to contact", "error", "timeout")
	h.Log(hclog.Error, "via Log")

	out := buf.String()
	if strings.Contains(out, "hidden trace") {
		t.Error("a trace message passed a debug-level handler")
	}
	for _, want := range []string{
		"level=DEBUG source=",
		"hclog_test.go:", // the caller, not the adapter
		`msg="entering follower state" logger=raft follower=FRA leader-id=DEU`,
		`level=WARN`, `msg="failed to contact" peer=ITA logger=raft.net error=timeout`,
		`level=ERROR`, `msg="via Log" logger=raft`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hclog.go:") {
		t.Errorf("records name the adapter as their source:\n%s", out)
	}

	w := h.With("a", 1).With("b", 2)
	if got := w.ImpliedArgs(); len(got) != 4 || got[0] != "a" || got[3] != 2 {
		t.Errorf("ImpliedArgs = %v", got)
	}
	if h.Named("x").Named("y").Name() != "raft.x.y" || h.Named("x").ResetNamed("z").Name() != "z" {
		t.Error("Named/ResetNamed do not compose names")
	}

	// SetLevel raises the threshold for this logger and those derived from it.
	h.SetLevel(hclog.Warn)
	if h.IsInfo() || !h.IsWarn() || h.Named("n").IsInfo() || h.GetLevel() != hclog.Warn {
		t.Error("SetLevel(Warn) did not raise the threshold")
	}
	h.SetLevel(hclog.Off)
	if h.IsError() || h.GetLevel() != hclog.Off {
		t.Error("SetLevel(Off) did not silence the logger")
	}
	h.SetLevel(hclog.NoLevel)

	buf = syncBuffer{}
	std := h.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
	std.Print("[WARN] memberlist: suspect node")
	std.Print("plain line")
	h.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error}).Print("[INFO] forced")
	out = buf.String()
	for _, want := range []string{
		`level=WARN msg="memberlist: suspect node" logger=raft`,
		`level=INFO msg="plain line"`,
		`level=ERROR msg=forced`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("standard logger output lacks %q:\n%s", want, out)
		}
	}

	HCLog(nil, "x").Error("discarded") // a nil logger is allowed and discards
}
