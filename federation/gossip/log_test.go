package gossip

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestMemberlistLogLevels(t *testing.T) {
	var buf bytes.Buffer
	l := memberlistLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	lines := []struct{ in, level, msg string }{
		{"[DEBUG] memberlist: Stream connection from=1.2.3.4:5", "DEBUG", `msg="Stream connection from=1.2.3.4:5"`},
		{"[INFO] memberlist: Marking X as failed", "INFO", `msg="Marking X as failed"`},
		{"[WARN] memberlist: Was able to connect", "WARN", `msg="Was able to connect"`},
		{"[ERR] memberlist: Decrypt packet failed", "ERROR", `msg="Decrypt packet failed"`},
		{"no mark at all", "INFO", `msg="no mark at all"`},
		{"[WARN] memberlist: ignoring alive message for 'NLD': " + refusalMark + " NLD without its signature", "DEBUG", "ignoring alive"},
		{"[WARN] memberlist: ignoring alive message for 'X' (1.2.3.4:5) because protocol version(s) are wrong", "WARN", "protocol version"},
	}
	for _, c := range lines {
		buf.Reset()
		l.Print(c.in)
		out := buf.String()
		if !strings.Contains(out, "level="+c.level) || !strings.Contains(out, c.msg) || !strings.Contains(out, "component=memberlist") {
			t.Fatalf("%q logged as %q, want level %s and %s", c.in, out, c.level, c.msg)
		}
	}
}
