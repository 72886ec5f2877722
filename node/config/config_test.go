package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env map[string]string) (*Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return Load(fs, args, func(k string) string { return env[k] })
}

func writeFile(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultsWithoutFile(t *testing.T) {
	dir := t.TempDir()
	c, err := load(t, []string{"--data", dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.APIAddr != "127.0.0.1:8443" || c.LogFormat != "text" || c.InsecureHTTP || c.MaxBodyBytes != 1<<20 {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if c.ConfigFile != filepath.Join(dir, FileName) {
		t.Fatalf("config file = %q", c.ConfigFile)
	}
	if c.RateLimit != 200 || c.RateBurst != 400 {
		t.Fatalf("rate limit defaults: %g/s burst %d", c.RateLimit, c.RateBurst)
	}
	// Off is a valid choice, whatever the burst says.
	if c, err := load(t, []string{"--data", dir, "--rate-limit", "0", "--rate-burst", "0"}, nil); err != nil || c.RateLimit != 0 {
		t.Fatalf("rate_limit 0: %v", err)
	}
}

func TestPrecedenceFileThenEnvThenFlags(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "api_addr: 127.0.0.1:9001\nlog_format: json\nlog_level: warn\nshutdown_timeout: 3s\n")
	env := map[string]string{"ENTENTE_LOG_LEVEL": "debug", "ENTENTE_API_ADDR": "127.0.0.1:9002"}
	c, err := load(t, []string{"--data", dir, "--api-addr", "127.0.0.1:9003"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.APIAddr != "127.0.0.1:9003" {
		t.Errorf("flag must win: api_addr = %s", c.APIAddr)
	}
	if c.LogLevel != "debug" {
		t.Errorf("env must beat the file: log_level = %s", c.LogLevel)
	}
	if c.LogFormat != "json" || c.ShutdownTimeout != 3*time.Second {
		t.Errorf("file values must beat defaults: %+v", c)
	}
}

func TestDataDirFromEnv(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "log_format: json\n")
	c, err := load(t, nil, map[string]string{"ENTENTE_DATA": dir})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != dir || c.LogFormat != "json" {
		t.Fatalf("ENTENTE_DATA not used to find the file: %+v", c)
	}
}

func TestErrorsNameTheSetting(t *testing.T) {
	cases := []struct {
		name, file string
		args       []string
		env        map[string]string
		want       string
	}{
		{"unknown file key", "api_adr: x\n", nil, nil, `line 1: unknown setting "api_adr"`},
		{"bad file value", "\nmax_body_bytes: lots\n", nil, nil, "line 2: max_body_bytes"},
		{"file cannot move data", "data: /tmp\n", nil, nil, `unknown setting "data"`},
		{"nested value", "api_addr:\n  host: x\n", nil, nil, "api_addr: expected a single value"},
		{"not a mapping", "- a\n- b\n", nil, nil, "expected a mapping"},
		{"bad env", "", nil, map[string]string{"ENTENTE_SHUTDOWN_TIMEOUT": "soon"}, "ENTENTE_SHUTDOWN_TIMEOUT"},
		{"bad api addr", "", []string{"--api-addr", "localhost"}, nil, "api_addr \"localhost\": want host:port"},
		{"bad log format", "", []string{"--log-format", "xml"}, nil, "log_format \"xml\""},
		{"bad level", "log_level: loud\n", nil, nil, "log_level \"loud\""},
		{"body too small", "", []string{"--max-body-bytes", "10"}, nil, "max_body_bytes 10"},
		{"ttl too long", "", []string{"--token-max-ttl", "9000h"}, nil, "token_max_ttl"},
		{"stray argument", "", []string{"extra"}, nil, `unexpected argument "extra"`},
		{"negative rate", "", []string{"--rate-limit", "-1"}, nil, "rate_limit -1"},
		{"rate without burst", "rate_burst: 0\n", nil, nil, "rate_burst 0"},
		{"snapshot check too often", "raft_snapshot_interval: 1ms\n", nil, nil, "raft_snapshot_interval 1ms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.file != "" {
				writeFile(t, dir, tc.file)
			}
			_, err := load(t, append([]string{"--data", dir}, tc.args...), tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestExplicitConfigFileMustExist(t *testing.T) {
	_, err := load(t, []string{"--data", t.TempDir(), "--config", "/nonexistent/entente.yaml"}, nil)
	if err == nil || !strings.Contains(err.Error(), "config file") {
		t.Fatalf("want a config file error, got %v", err)
	}
}

// TestDefaultFileParses checks that the file init writes is accepted as it stands and
// documents every setting it may hold.
func TestDefaultFileParses(t *testing.T) {
	dir := t.TempDir()
	body := DefaultFile("127.0.0.1:9443")
	writeFile(t, dir, string(body))
	c, err := load(t, []string{"--data", dir}, nil)
	if err != nil {
		t.Fatalf("default file refused: %v\n%s", err, body)
	}
	if c.APIAddr != "127.0.0.1:9443" {
		t.Fatalf("api_addr from the default file = %s", c.APIAddr)
	}
	for _, key := range []string{"log_format", "insecure_http", "max_body_bytes", "ENTENTE_LOG_LEVEL"} {
		if !strings.Contains(string(body), key) {
			t.Errorf("default file does not mention %s", key)
		}
	}
}

// TestErrorsNameTheSource checks that a value which parses but is out of range is traced
// back to where it was set.
func TestErrorsNameTheSource(t *testing.T) {
	cases := []struct {
		name, file string
		args       []string
		env        map[string]string
		want       string
	}{
		{"env", "", nil, map[string]string{"ENTENTE_API_ADDR": "bad"}, "(set by ENTENTE_API_ADDR)"},
		{"file", "\nlog_format: xml\n", nil, nil, "line 2)"},
		{"flag", "", []string{"--max-concurrent", "0"}, nil, "(set by --max-concurrent)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.file != "" {
				writeFile(t, dir, tc.file)
			}
			_, err := load(t, append([]string{"--data", dir}, tc.args...), tc.env)
			var se *SettingError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want a SettingError containing %q", err, tc.want)
			}
		})
	}
}

func TestCommandLineErrorsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"--nonsense"}, {"--api-addr"}, {"--max-concurrent", "many"}, {"stray"}} {
		_, err := load(t, append([]string{"--data", t.TempDir()}, args...), nil)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%v: error %v is not ErrUsage", args, err)
		}
	}
	if _, err := load(t, []string{"--help"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp", err)
	}
}

func TestPprofOnlyOnLoopback(t *testing.T) {
	if _, err := load(t, []string{"--data", t.TempDir(), "--pprof-addr", "0.0.0.0:6060"}, nil); err == nil || !strings.Contains(err.Error(), "pprof_addr") {
		t.Fatalf("a profiler on every interface was accepted: %v", err)
	}
	if _, err := load(t, []string{"--data", t.TempDir(), "--pprof-addr", "127.0.0.1:6060"}, nil); err != nil {
		t.Fatal(err)
	}
}
