package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/node/config"
)

// The offline administrative commands open the node, which starts its group-commit
// goroutine; a command that forgets to close the node on some path shows up here.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// result is what one in-process invocation of the CLI printed and returned.
type result struct {
	stdout, stderr string
	err            error
}

// runCLI runs the CLI in-process with a fresh env whose environment is vars alone (never
// the process environment) and whose standard input is empty.
func runCLI(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{
		stdin:  strings.NewReader(""),
		stdout: &stdout,
		stderr: &stderr,
		getenv: func(k string) string { return vars[k] },
	}
	err := run(e, args)
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// mustRun is runCLI for an invocation that must succeed.
func mustRun(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	r := runCLI(t, vars, args...)
	if r.err != nil {
		t.Fatalf("entente %s: %v\nstderr:\n%s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r
}

// wantErr fails unless err is non-nil and its message contains every one of want.
func wantErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// wantUsage fails unless err is a usage error (exit status 2) containing every one of want.
func wantUsage(t *testing.T, err error, want ...string) {
	t.Helper()
	wantErr(t, err, want...)
	if !errors.Is(err, errUsage) {
		t.Errorf("error %q is not a usage error", err)
	}
}

// testAPIAddr is the API address the test nodes are created for; it appears in the member
// card and the config file, so a test can tell it was honoured rather than defaulted.
const testAPIAddr = "127.0.0.1:9443"

// initNode creates a FRA node in a new data directory and returns the directory and the
// init invocation's result.
func initNode(t *testing.T) (string, result) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fra")
	r := mustRun(t, nil, "init", "--state", "FRA", "--data", dir, "--api-addr", testAPIAddr)
	return dir, r
}

// secrets returns distinctive pieces of the private key material in dir: the age secret
// key, the signing key's "d" member and a line of the TLS private key.
func secrets(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	age := readFile(t, filepath.Join(dir, "keys", "age.key"))
	for line := range strings.Lines(string(age)) {
		if strings.HasPrefix(line, "AGE-SECRET-KEY-") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	if len(out) != 1 {
		t.Fatalf("keys/age.key holds %d AGE-SECRET-KEY lines, want 1", len(out))
	}
	out = append(out, strings.TrimSpace(string(age)))
	var jwk struct {
		D string `json:"d"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "keys", "signing.jwk")), &jwk); err != nil || len(jwk.D) < 40 {
		t.Fatalf("keys/signing.jwk: no private member d (err %v)", err)
	}
	out = append(out, jwk.D)
	blk, _ := pem.Decode(readFile(t, filepath.Join(dir, "keys", "tls.key")))
	if blk == nil {
		t.Fatal("keys/tls.key is not PEM")
	}
	body := strings.Split(strings.TrimSpace(string(pem.EncodeToMemory(blk))), "\n")
	return append(out, body[1])
}

// assertNoSecrets fails if any output holds private key material of the node in dir.
func assertNoSecrets(t *testing.T, dir string, outputs ...string) {
	t.Helper()
	for _, s := range secrets(t, dir) {
		for i, o := range outputs {
			if strings.Contains(o, s) {
				t.Errorf("output %d contains private key material %.12s...", i, s)
			}
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// allCommands is the command set the usage text must list; a command dropped from the
// dispatch table or the usage text, or one without a summary, fails TestUsage.
var allCommands = []string{"audit", "federation", "import", "indicator", "init", "keys", "record", "screen", "serve", "testnet", "token", "verify", "version", "watchlist"}

func TestUsage(t *testing.T) {
	t.Parallel()
	if names := slices.Sorted(maps.Keys(commands())); !slices.Equal(names, allCommands) {
		t.Fatalf("commands() = %v, want %v", names, allCommands)
	}
	for _, args := range [][]string{nil, {"help"}, {"-h"}, {"--help"}} {
		r := runCLI(t, nil, args...)
		if r.err != nil {
			t.Errorf("entente %v: %v", args, r.err)
		}
		if !strings.HasPrefix(r.stdout, "Usage: entente <command>") {
			t.Errorf("entente %v: stdout does not start with the usage line:\n%s", args, r.stdout)
		}
		for _, n := range allCommands {
			sum := commands()[n].summary
			if sum == "" || !strings.Contains(r.stdout, "\n  "+n+" ") || !strings.Contains(r.stdout, sum) {
				t.Errorf("entente %v: usage does not list %s with its summary:\n%s", args, n, r.stdout)
			}
		}
		if r.stderr != "" {
			t.Errorf("entente %v: stderr %q, want nothing", args, r.stderr)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "frobnicate", "--data", "x")
	wantUsage(t, r.err, `unknown command "frobnicate"`)
	if !strings.Contains(r.stderr, "Usage: entente <command>") {
		t.Errorf("stderr does not show the usage:\n%s", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
}

// Every command's --help is flag.ErrHelp (exit 0 in main) with the command's own usage on
// stderr, not a usage error.
func TestCommandHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"init", "--help"},
		{"serve", "--help"},
		{"token", "issue", "--help"},
		{"token", "revoke", "-h"},
		{"token", "list", "--help"},
		{"record", "get", "--help"},
		{"keys", "rotate", "--help"},
		{"verify", "--help"},
		{"audit", "verify", "--help"},
	} {
		r := runCLI(t, nil, args...)
		if !errors.Is(r.err, flag.ErrHelp) {
			t.Errorf("entente %v: error %v, want flag.ErrHelp", args, r.err)
		}
		if errors.Is(r.err, errUsage) {
			t.Errorf("entente %v: --help is reported as a usage error", args)
		}
		if !strings.Contains(r.stderr, "Usage: entente "+args[0]) || !strings.Contains(r.stderr, "Flags:") {
			t.Errorf("entente %v: stderr does not show the command's flags:\n%s", args, r.stderr)
		}
	}
}

// A command that needs a verb says which verbs there are.
func TestMissingOrUnknownVerb(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"token"}, "issue, revoke or list"},
		{[]string{"token", "burn"}, `unknown token verb "burn"`},
		{[]string{"record"}, "add, correct, get or list"},
		{[]string{"record", "delete"}, `unknown record verb "delete"`},
		{[]string{"keys"}, "rotate"},
		{[]string{"keys", "list"}, "rotate"},
		{[]string{"audit"}, "verify"},
		{[]string{"audit", "repair"}, "verify"},
		{[]string{"federation"}, "genesis, gossip-key, status"},
		{[]string{"watchlist"}, "nominate, vote, appeal, renew, list or get"},
	} {
		wantUsage(t, runCLI(t, nil, tc.args...).err, tc.want)
	}
}

// 'entente <command> --help' lists a verb command's verbs, as the top-level usage says.
func TestVerbCommandHelp(t *testing.T) {
	t.Parallel()
	for name, c := range commands() {
		if len(c.verbs) == 0 {
			continue
		}
		for _, h := range []string{"--help", "-h", "help"} {
			r := runCLI(t, nil, name, h)
			if r.err != nil || !strings.Contains(r.stdout, "Usage: entente "+name+" <verb>") || !strings.Contains(r.stdout, strings.Join(c.verbs, ", ")) {
				t.Errorf("entente %s %s: %v\n%s", name, h, r.err, r.stdout)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	r := mustRun(t, nil, "version")
	if r.stdout != "entente "+version+"\n" {
		t.Errorf("stdout %q, want %q", r.stdout, "entente "+version+"\n")
	}
}

func TestServeUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--nonsense"}, "nonsense"},
		{[]string{"serve", "--data", dir, "--log-format"}, "log-format"},
		{[]string{"serve", "--data", dir, "--max-concurrent", "many"}, "max-concurrent"},
	} {
		r := runCLI(t, nil, tc.args...)
		wantUsage(t, r.err, tc.want)
		if !strings.Contains(r.stderr, "Usage: entente serve") {
			t.Errorf("serve %v: stderr does not show serve's flags:\n%s", tc.args, r.stderr)
		}
	}
}

// A bad setting is refused by name, whichever source it came from, before anything starts.
func TestServeBadSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		file string // DIR/config.yaml, when not empty
		vars map[string]string
		args []string
		want []string
	}{
		{name: "file", file: "log_format: xml\n", want: []string{"log_format", `"xml"`}},
		{name: "file unknown key", file: "colour: blue\n", want: []string{"config.yaml line 1", `unknown setting "colour"`}},
		// The environment's api_addr is validated with the rest; the error names the
		// setting (not, today, the variable it came from: config.Validate does not know).
		{name: "env", vars: map[string]string{"ENTENTE_API_ADDR": "bad"}, want: []string{"api_addr", `"bad"`}},
		{name: "env parse", vars: map[string]string{"ENTENTE_MAX_BODY_BYTES": "lots"}, want: []string{"ENTENTE_MAX_BODY_BYTES", "lots"}},
		{name: "env level", vars: map[string]string{"ENTENTE_LOG_LEVEL": "loud"}, want: []string{"log_level", "loud"}},
		{name: "flag", args: []string{"--gc-percent", "5"}, want: []string{"gc_percent", "5"}},
		// A flag beats the file: the file's good value does not hide the flag's bad one.
		{name: "flag over file", file: "log_format: json\n", args: []string{"--log-format", "yaml"}, want: []string{"log_format", `"yaml"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tc.file != "" {
				writeFile(t, filepath.Join(dir, config.FileName), []byte(tc.file))
			}
			r := runCLI(t, tc.vars, append([]string{"serve", "--data", dir}, tc.args...)...)
			wantErr(t, r.err, tc.want...)
			if errors.Is(r.err, errUsage) {
				t.Errorf("a bad setting value %q is reported as a usage error", r.err)
			}
			if _, err := os.Stat(filepath.Join(dir, "node.db")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("serve with a bad setting created node.db (stat: %v)", err)
			}
		})
	}
}

// serve on a directory that holds no node says how to make one, and creates nothing.
func TestServeWithoutNode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// GOGC set keeps serve from changing this test process's GC target.
	r := runCLI(t, map[string]string{"GOGC": "100"}, "serve", "--data", dir)
	wantErr(t, r.err, "entente init")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("serve without a node left %d files in the data directory", len(entries))
	}
}

func TestInit(t *testing.T) {
	t.Parallel()
	dir, r := initNode(t)

	card, err := identity.ParseCard([]byte(r.stdout))
	if err != nil {
		t.Fatalf("stdout is not a member card: %v\n%s", err, r.stdout)
	}
	if card.State != "FRA" || card.APIAddr != testAPIAddr {
		t.Errorf("card state %q api_addr %q, want FRA %s", card.State, card.APIAddr, testAPIAddr)
	}
	id, err := identity.Load(dir)
	if err != nil {
		t.Fatalf("init did not leave a loadable identity: %v", err)
	}
	if card.TLSPin != id.TLSPin {
		t.Errorf("card pin %s, identity pin %s", card.TLSPin, id.TLSPin)
	}
	if pub, err := card.SigningKey(); err != nil || !pub.Equal(id.Signer.Public()) {
		t.Errorf("card signing key is not the node's (err %v)", err)
	}
	onDisk, err := identity.ParseCard(readFile(t, filepath.Join(dir, identity.CardFile)))
	if err != nil || onDisk.TLSPin != card.TLSPin || onDisk.AgeRecipient != card.AgeRecipient {
		t.Errorf("%s does not hold the printed card (err %v)", identity.CardFile, err)
	}
	if !strings.Contains(r.stderr, "created node FRA in "+dir) {
		t.Errorf("stderr does not report the new node:\n%s", r.stderr)
	}

	cfgPath := filepath.Join(dir, config.FileName)
	st, err := os.Stat(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", config.FileName, st.Mode().Perm())
	}
	cfg, err := config.Load(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--data", dir}, func(string) string { return "" })
	if err != nil {
		t.Fatalf("config.Load refuses the file init wrote: %v", err)
	}
	if cfg.APIAddr != testAPIAddr {
		t.Errorf("config api_addr %q, want %q", cfg.APIAddr, testAPIAddr)
	}

	assertNoSecrets(t, dir, r.stdout, r.stderr)
}

func TestInitTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	dir, _ := initNode(t)
	before := snapshot(t, dir)
	r := runCLI(t, nil, "init", "--state", "DEU", "--data", dir, "--api-addr", "127.0.0.1:9444")
	wantErr(t, r.err, "nothing was changed")
	if !errors.Is(r.err, identity.ErrExists) {
		t.Errorf("error %v is not identity.ErrExists", r.err)
	}
	if r.stdout != "" {
		t.Errorf("a failed init printed %q", r.stdout)
	}
	after := snapshot(t, dir)
	if !maps.Equal(before, after) {
		t.Errorf("a second init changed the data directory:\nbefore %v\nafter  %v", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
	}
	assertNoSecrets(t, dir, r.stdout, r.stderr, r.err.Error())
}

// snapshot maps every path under dir to its mode and content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		v := info.Mode().String()
		if !d.IsDir() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			v += " " + string(b)
		}
		m[path] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInitBadState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args  []string
		want  string
		usage bool
	}{
		{[]string{}, "--state is required", true},
		{[]string{"--state", ""}, "--state is required", true},
		{[]string{"--state", "XXY"}, `--state: "XXY" is not an ISO 3166-1 alpha-3`, false},
		{[]string{"--state", "fra"}, `--state: "fra"`, false},
		{[]string{"--state", "FR"}, `--state: "FR"`, false},
	} {
		dir := filepath.Join(t.TempDir(), "node")
		r := runCLI(t, nil, append([]string{"init", "--data", dir}, tc.args...)...)
		wantErr(t, r.err, tc.want)
		if got := errors.Is(r.err, errUsage); got != tc.usage {
			t.Errorf("init %v: usage error %v, want %v", tc.args, got, tc.usage)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("init %v: a refused init created the data directory (stat: %v)", tc.args, err)
		}
		if r.stdout != "" {
			t.Errorf("init %v: stdout %q, want nothing", tc.args, r.stdout)
		}
	}
}

// init keeps an operator's existing config file rather than overwriting it.
func TestInitKeepsExistingConfig(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "fra")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	const mine = "log_format: json\n"
	writeFile(t, filepath.Join(dir, config.FileName), []byte(mine))
	r := mustRun(t, nil, "init", "--state", "FRA", "--data", dir)
	if got := string(readFile(t, filepath.Join(dir, config.FileName))); got != mine {
		t.Errorf("init overwrote the config file: %q", got)
	}
	if !strings.Contains(r.stderr, "kept the existing") {
		t.Errorf("stderr does not say the config was kept:\n%s", r.stderr)
	}
	if _, err := identity.ParseCard([]byte(r.stdout)); err != nil {
		t.Errorf("stdout is not a member card: %v", err)
	}
}

// readJSON decodes s into a value of type T, failing the test if it is not JSON.
func readJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("trailing data after the JSON in %q", s)
	}
	return v
}

// A word where a flag belongs is refused, not ignored: `keys rotate /srv/node` must not
// act on the default data directory, and `record add rec.json` must not read stdin.
func TestStrayArgument(t *testing.T) {
	t.Parallel()
	dir, _ := initNode(t)
	jwks := readFile(t, filepath.Join(dir, "keys", "jwks.json"))
	for _, args := range [][]string{
		{"keys", "rotate", "--data", dir, "now"},
		{"keys", "rotate", dir},
		{"token", "issue", "--data", dir, "--role", "officer", "alice"},
		{"token", "list", dir},
		{"audit", "verify", "--data", dir, "all"},
		{"init", "--state", "DEU", "--data", filepath.Join(dir, "deu"), "now"},
		{"verify", "--jwks", "j", "--body", "b", "--sig", "s", "extra"},
		{"record", "add", "--token", "t", "rec.json"},
		{"record", "list", "--token", "t", "licence"},
		{"serve", "--data", dir, "now"},
	} {
		r := runCLI(t, nil, args...)
		wantUsage(t, r.err, "unexpected argument")
		if r.stdout != "" {
			t.Errorf("%v: stdout %q, want nothing", args, r.stdout)
		}
	}
	if got := readFile(t, filepath.Join(dir, "keys", "jwks.json")); !bytes.Equal(got, jwks) {
		t.Error("a refused keys rotate changed the JWKS")
	}
	if toks := listTokens(t, dir); len(toks) != 0 {
		t.Errorf("a refused token issue issued %d tokens", len(toks))
	}
	if _, err := os.Stat(filepath.Join(dir, "deu")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused init created its data directory (stat: %v)", err)
	}
}
