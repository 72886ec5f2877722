package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entente/entente/node"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/config"
)

// ftmList is a small list in the OpenSanctions FollowTheMoney format.
const ftmList = `{"id":"ofac-1","schema":"Person","properties":{"name":["Nicolas Maduro Moros"],"country":["ve"],"birthDate":["1962-11-23"]}}
{"id":"ofac-2","schema":"Company","properties":{"name":["Rosoboron Trading LLC"],"alias":["Rosoboron"],"country":["ru"]}}
{"id":"ofac-3","schema":"Vessel","properties":{"name":["ARTAVIL"],"imoNumber":["9187629"]}}
`

// serveNode runs the node in dir in this process, on a loopback port, until the test ends.
func serveNode(t *testing.T, dir string) {
	t.Helper()
	fs := newFlags(&env{stderr: io.Discard}, "serve", "serve")
	cfg, err := config.Load(fs, []string{"--data", dir, "--api-addr", "127.0.0.1:0"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := adminClient(dir); err == nil && c != nil {
			c.CloseIdle()
			if _, err := os.Stat(filepath.Join(dir, node.RuntimeFile)); err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the node did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An import parses the file locally, prints counts and version, and imports the list;
// on a stopped node it writes the database directly, and a second run changes nothing.
// A malformed file is refused with its line and the last good version keeps serving.
// Once the node serves, imports go over the admin socket and screen finds the entries.
func TestImportAndScreen(t *testing.T) {
	t.Parallel()
	dir, _ := initNode(t)
	src := filepath.Join(t.TempDir(), "sanctions.ftm.json")
	writeFile(t, src, []byte(ftmList))

	r := mustRun(t, nil, "import", "--format", "ftm", "--file", src, "--data", dir, "--list", "opensanctions")
	if !strings.Contains(r.stdout, "ftm: 3 entities (1 persons, 1 organisations, 1 vessels, 0 aircraft, 0 other), 1 aliases, 1 identifiers") ||
		!strings.Contains(r.stdout, "version sha256:") || !strings.Contains(r.stdout, "list opensanctions imported: version sha256:") {
		t.Errorf("import stdout:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "100%") {
		t.Errorf("import shows no progress:\n%s", r.stderr)
	}
	r = mustRun(t, nil, "import", "--format", "ftm", "--file", src, "--data", dir, "--list", "opensanctions")
	if !strings.Contains(r.stdout, "already serves version sha256:") {
		t.Errorf("second import stdout:\n%s", r.stdout)
	}

	bad := filepath.Join(t.TempDir(), "bad.ftm.json")
	writeFile(t, bad, []byte(ftmList+`{"id":"ofac-4","schema":"Person","properties":`+"\n"))
	r = runCLI(t, nil, "import", "--format", "ftm", "--file", bad, "--data", dir, "--list", "opensanctions")
	wantErr(t, r.err, "bad.ftm.json", "line 4")

	serveNode(t, dir)
	tok := strings.TrimSpace(mustRun(t, nil, "token", "issue", "--data", dir, "--role", "officer").stdout)
	vars := map[string]string{"ENTENTE_TOKEN": tok}

	r = mustRun(t, vars, "screen", "MADURO MOROS, Nicolas", "--country", "VE", "--type", "person", "--data", dir)
	if !strings.Contains(r.stdout, "opensanctions/ofac-1") || !strings.Contains(r.stdout, "Nicolas Maduro Moros") || !strings.Contains(r.stdout, "name +0.") {
		t.Errorf("screen stdout:\n%s", r.stdout)
	}
	if !strings.HasPrefix(r.stdout, "1 hit at or above 0.78 against opensanctions@sha256:") {
		t.Errorf("screen header:\n%s", r.stdout)
	}
	r = mustRun(t, vars, "screen", "--data", dir, "--json", "--threshold", "0.9", "--limit", "5", "Rosoboron Trading Ltd")
	var out api.ScreenResponse
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if len(out.Hits) == 0 || out.Hits[0].EntityID != "ofac-2" || out.AuditSeq == 0 {
		t.Errorf("--json hits: %+v", out)
	}
	r = mustRun(t, vars, "screen", "--data", dir, "--id-scheme", "imo", "--id", "IMO9187629")
	if !strings.Contains(r.stdout, "opensanctions/ofac-3") || !strings.Contains(r.stdout, "1.000") {
		t.Errorf("identifier screen:\n%s", r.stdout)
	}
	r = mustRun(t, vars, "screen", "--data", dir, "Jean-Pierre Dupont")
	if !strings.HasPrefix(r.stdout, "0 hits") {
		t.Errorf("no-hit screen:\n%s", r.stdout)
	}
	r = runCLI(t, vars, "screen", "--data", dir, "--country", "Atlantis", "Someone")
	wantErr(t, r.err, "countries[0]")

	// Online import over the admin socket: a changed list replaces the old one.
	v2 := filepath.Join(t.TempDir(), "v2.ftm.json")
	writeFile(t, v2, []byte(ftmList+`{"id":"ofac-5","schema":"Person","properties":{"name":["Ivan Petrovich Sidorov"]}}`+"\n"))
	r = mustRun(t, nil, "import", "--format", "ftm", "--file", v2, "--data", dir, "--list", "opensanctions")
	if !strings.Contains(r.stdout, "list opensanctions replaced") || !strings.Contains(r.stdout, "re-screened 0 pending records") {
		t.Errorf("online import:\n%s", r.stdout)
	}
	r = mustRun(t, vars, "screen", "--data", dir, "SIDOROV, Ivan Petrovich")
	if !strings.Contains(r.stdout, "opensanctions/ofac-5") {
		t.Errorf("screen after the online import:\n%s", r.stdout)
	}
	// A malformed file never reaches the node.
	r = runCLI(t, nil, "import", "--format", "ftm", "--file", bad, "--data", dir, "--list", "opensanctions")
	wantErr(t, r.err, "line 4")
}

func TestImportAndScreenUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "--file", "x"}, "--format is required"},
		{[]string{"import", "--format", "ftm"}, "--dir DIR"},
		{[]string{"import", "--format", "ftm", "--dir", "a", "--file", "b"}, "not both"},
		{[]string{"import", "--format", "ftm", "--file", "b", "--list", "Bad Name"}, "--list"},
		{[]string{"import", "--format", "ftm", "--file", "b", "--list", "consensus"}, "consensus"},
		{[]string{"import", "--format", "pdf", "--file", "b"}, "unknown format"},
		{[]string{"import", "--format", "ftm", "--file", "b", "stray"}, "unexpected argument"},
		{[]string{"screen", "--token", "t", "--node", "https://127.0.0.1:1"}, "name the party"},
		{[]string{"screen", "x", "--threshold", "2"}, "--threshold"},
		{[]string{"screen", "x", "--limit", "500"}, "--limit"},
		{[]string{"screen", "x"}, "no token"},
	} {
		wantUsage(t, runCLI(t, nil, tc.args...).err, tc.want)
	}
	r := runCLI(t, nil, "import", "--format", "ftm", "--file", filepath.Join(t.TempDir(), "missing.json"))
	wantErr(t, r.err, "missing.json")
}
