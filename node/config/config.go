// Package config is the node's configuration: one struct with defaults, read from the
// config file, then the environment, then command-line flags, and validated before the node
// starts so that a bad setting is refused by name instead of failing later.
//
// Every setting is declared once, as a flag. The file and the environment are applied
// through the same flag parsers, so a setting has one name (api_addr in the file,
// ENTENTE_API_ADDR in the environment, --api-addr on the command line), one parser and one
// help text, and the commented default file that `entente init` writes is generated from
// the same declarations.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ErrUsage marks an error in the command line itself (an unknown flag, a flag without its
// value, a stray argument), as opposed to a bad value for a known setting.
var ErrUsage = errors.New("usage")

// SettingError names a setting whose value is wrong, where that value came from, and
// what is wrong with it.
type SettingError struct {
	// Setting is the setting's name as in the config file, such as api_addr.
	Setting string
	// Source is where the value came from: the config file, an ENTENTE_* variable, a
	// flag, or empty for the default.
	Source string
	// Problem says what is wrong and what to use instead.
	Problem string
}

func (e *SettingError) Error() string {
	if e.Source == "" {
		return e.Setting + " " + e.Problem
	}
	return e.Setting + " " + e.Problem + " (set by " + e.Source + ")"
}

func bad(setting, format string, args ...any) *SettingError {
	return &SettingError{Setting: setting, Problem: fmt.Sprintf(format, args...)}
}

// FileName is the config file's name inside the data directory.
const FileName = "config.yaml"

// EnvPrefix starts the environment variable of every setting: api_addr is ENTENTE_API_ADDR.
const EnvPrefix = "ENTENTE_"

// Config is everything `entente serve` needs to know besides the identity on disk.
type Config struct {
	// DataDir holds the identity, the bbolt file and the config file.
	DataDir string
	// ConfigFile is the YAML file read before the environment and flags; empty means
	// DataDir/config.yaml, and a missing default file is not an error.
	ConfigFile string
	// APIAddr is where the HTTPS API listens.
	APIAddr string
	// InsecureHTTP serves plain HTTP instead of HTTPS. It exists for local debugging
	// behind a TLS-terminating proxy and must be asked for by name.
	InsecureHTTP bool
	// LogFormat is "text" or "json".
	LogFormat string
	// LogLevel is "debug", "info", "warn" or "error".
	LogLevel string
	// PolicyFile is a federation policy YAML; empty means the built-in default policy.
	PolicyFile string
	// RosterFile lists the member cards of the states this node may seal for; empty
	// means this state alone.
	RosterFile string
	// MaxBodyBytes caps every request body.
	MaxBodyBytes int64
	// ShutdownTimeout bounds how long in-flight requests may finish after SIGTERM.
	ShutdownTimeout time.Duration
	// TokenMaxTTL caps the lifetime of client tokens the node issues.
	TokenMaxTTL time.Duration
	// MaxConcurrent caps requests handled at once; more wait, then get 503.
	MaxConcurrent int
	// Genesis is the federation's genesis document; empty runs the node alone.
	Genesis string
	// Join starts a state the genesis does not name, to be admitted by the voters.
	Join bool
	// RaftAddr is the federation's cluster port (raft over mutual TLS).
	RaftAddr string
	// GossipAddr is the federation's gossip port (memberlist, encrypted).
	GossipAddr string
	// GossipKey is the file holding the federation's gossip key; empty means
	// DATA/gossip.key.
	GossipKey string
	// RaftHeartbeat is raft's heartbeat and election timeout; a local test federation
	// shortens it.
	RaftHeartbeat time.Duration
	// RaftSnapshotThreshold is how many log entries raft collects before it snapshots
	// the state and compacts its log; RaftTrailingLogs how many it keeps after that for
	// followers that are only a little behind.
	RaftSnapshotThreshold uint64
	RaftTrailingLogs      uint64
	// RaftSnapshotInterval is how often raft checks whether the threshold is reached.
	RaftSnapshotInterval time.Duration
	// PprofAddr, when set, serves Go's profiler there; loopback only, for diagnosing a
	// node under load.
	PprofAddr string
	// WebhookAllowPrivate lets webhooks target loopback, private and link-local
	// addresses. Off by default: otherwise any integrator token could make the node send
	// requests into the network it sits in.
	WebhookAllowPrivate bool
	// RateLimit is how many requests per second one client token may make on average,
	// and RateBurst how many it may make at once before that rate applies; a token over
	// its budget gets 429 with Retry-After. They keep one integrator's loop from taking
	// the capacity that max_concurrent shares among everyone. RateLimit 0 turns the
	// limit off. The admin socket and member nodes' calls are not limited.
	RateLimit float64
	RateBurst int
	// GCPercent is the garbage collector's target (as GOGC). A node's live heap is tens
	// of megabytes, so collecting half as often buys a third more throughput for little
	// memory. A GOGC environment variable, when set, wins.
	GCPercent int
}

// New returns a Config holding the defaults.
func New() *Config {
	return &Config{
		DataDir:               "./entente-data",
		APIAddr:               "127.0.0.1:8443",
		LogFormat:             "text",
		LogLevel:              "info",
		MaxBodyBytes:          1 << 20,
		ShutdownTimeout:       15 * time.Second,
		TokenMaxTTL:           30 * 24 * time.Hour,
		MaxConcurrent:         512,
		RateLimit:             200,
		RateBurst:             400,
		GCPercent:             200,
		RaftAddr:              "127.0.0.1:7443",
		GossipAddr:            "127.0.0.1:7946",
		RaftHeartbeat:         time.Second,
		RaftSnapshotThreshold: 8192,
		RaftTrailingLogs:      10240,
		RaftSnapshotInterval:  2 * time.Minute,
	}
}

// notInFile are the settings that locate the file itself, so the file cannot set them.
var notInFile = map[string]bool{"data": true, "config": true}

// AddFlags declares every setting on fs with c's current values as defaults.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data directory holding the identity, the config file and the node database")
	fs.StringVar(&c.ConfigFile, "config", c.ConfigFile, "config file (default DATA/config.yaml)")
	fs.StringVar(&c.APIAddr, "api-addr", c.APIAddr, "address the HTTPS API listens on (host:port)")
	fs.BoolVar(&c.InsecureHTTP, "insecure-http", c.InsecureHTTP, "serve plain HTTP instead of HTTPS (debugging behind a TLS proxy only)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	fs.StringVar(&c.PolicyFile, "policy", c.PolicyFile, "federation policy YAML (default: the built-in policy)")
	fs.StringVar(&c.RosterFile, "roster", c.RosterFile, "roster JSON with the member cards of the states this node seals for (default: this state alone)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest request body accepted, in bytes")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long in-flight requests may finish on shutdown")
	fs.DurationVar(&c.TokenMaxTTL, "token-max-ttl", c.TokenMaxTTL, "longest lifetime of a client token")
	fs.IntVar(&c.MaxConcurrent, "max-concurrent", c.MaxConcurrent, "requests handled at once")
	fs.Float64Var(&c.RateLimit, "rate-limit", c.RateLimit, "requests per second one client token may make on average; more get 429 with Retry-After (0: no limit)")
	fs.IntVar(&c.RateBurst, "rate-burst", c.RateBurst, "requests one client token may make at once before rate_limit applies")
	fs.StringVar(&c.Genesis, "genesis", c.Genesis, "federation genesis document (entente federation genesis writes one); empty runs the node alone")
	fs.BoolVar(&c.Join, "join", c.Join, "this state is not in the genesis: wait to be admitted by the voters, then follow")
	fs.StringVar(&c.RaftAddr, "raft-addr", c.RaftAddr, "federation cluster port: raft over mutual TLS (host:port)")
	fs.StringVar(&c.GossipAddr, "gossip-addr", c.GossipAddr, "federation gossip port (host:port)")
	fs.StringVar(&c.GossipKey, "gossip-key", c.GossipKey, "file with the federation's gossip key (default DATA/gossip.key)")
	fs.DurationVar(&c.RaftHeartbeat, "raft-heartbeat", c.RaftHeartbeat, "raft heartbeat and election timeout")
	fs.Uint64Var(&c.RaftSnapshotThreshold, "raft-snapshot-threshold", c.RaftSnapshotThreshold, "log entries between state snapshots")
	fs.DurationVar(&c.RaftSnapshotInterval, "raft-snapshot-interval", c.RaftSnapshotInterval, "how often raft checks whether a snapshot is due")
	fs.Uint64Var(&c.RaftTrailingLogs, "raft-trailing-logs", c.RaftTrailingLogs, "log entries kept after a snapshot for followers a little behind")
	fs.StringVar(&c.PprofAddr, "pprof-addr", c.PprofAddr, "serve Go's profiler on this loopback address (off when empty)")
	fs.IntVar(&c.GCPercent, "gc-percent", c.GCPercent, "garbage collector target as GOGC (a GOGC environment variable wins)")
	fs.BoolVar(&c.WebhookAllowPrivate, "webhook-allow-private", c.WebhookAllowPrivate, "let webhooks target loopback, private and link-local addresses (off: public addresses only)")
}

// fileKey is a flag's name as it is written in the config file and the environment.
func fileKey(flagName string) string { return strings.ReplaceAll(flagName, "-", "_") }

// EnvName is the environment variable that sets the flag called flagName.
func EnvName(flagName string) string { return EnvPrefix + strings.ToUpper(fileKey(flagName)) }

// Load builds the configuration for args: defaults, then the config file, then the
// environment (read through getenv), then the flags given in args. It validates the
// result and names the setting and its source in any error.
func Load(fs *flag.FlagSet, args []string, getenv func(string) string) (*Config, error) {
	c := New()
	c.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q (settings are given as --name value)", ErrUsage, fs.Arg(0))
	}
	explicit := map[string]string{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = f.Value.String() })
	sources := map[string]string{} // file key -> where its value came from

	// data and config may come from the environment; the file cannot set them.
	for _, name := range []string{"data", "config"} {
		if _, ok := explicit[name]; ok {
			continue
		}
		if v := getenv(EnvName(name)); v != "" {
			if err := fs.Set(name, v); err != nil {
				return nil, fmt.Errorf("%s: %w", EnvName(name), err)
			}
		}
	}
	path, mustExist := c.ConfigFile, true
	if path == "" {
		path, mustExist = filepath.Join(c.DataDir, FileName), false
	}
	if err := applyFile(fs, path, mustExist, sources); err != nil {
		return nil, err
	}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if envErr != nil || notInFile[f.Name] {
			return
		}
		if v, ok := lookupEnv(getenv, EnvName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, err)
			}
			sources[fileKey(f.Name)] = EnvName(f.Name)
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	for name, v := range explicit {
		if err := fs.Set(name, v); err != nil {
			return nil, fmt.Errorf("--%s: %w", name, err)
		}
		sources[fileKey(name)] = "--" + name
	}
	if c.ConfigFile == "" {
		c.ConfigFile = path
	}
	if err := c.Validate(); err != nil {
		var se *SettingError
		if errors.As(err, &se) {
			se.Source = sources[se.Setting]
		}
		return nil, err
	}
	return c, nil
}

func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// maxConfigBytes bounds the config file; a real one is a few hundred bytes.
const maxConfigBytes = 1 << 20

// applyFile sets each key of the YAML mapping in path through its flag.
func applyFile(fs *flag.FlagSet, path string, mustExist bool, sources map[string]string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !mustExist {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	if len(data) > maxConfigBytes {
		return fmt.Errorf("config file %s: larger than %d bytes", path, maxConfigBytes)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // empty or comments only
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("config file %s line %d: expected a mapping of setting: value", path, m.Line)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		name := strings.ReplaceAll(k.Value, "_", "-")
		f := fs.Lookup(name)
		if f == nil || notInFile[name] {
			return fmt.Errorf("config file %s line %d: unknown setting %q (known: %s)", path, k.Line, k.Value, strings.Join(fileKeys(fs), ", "))
		}
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("config file %s line %d: %s: expected a single value", path, v.Line, k.Value)
		}
		if err := fs.Set(name, v.Value); err != nil {
			return fmt.Errorf("config file %s line %d: %s: %w", path, v.Line, k.Value, err)
		}
		sources[k.Value] = fmt.Sprintf("config file %s line %d", path, v.Line)
	}
	return nil
}

func fileKeys(fs *flag.FlagSet) []string {
	var keys []string
	fs.VisitAll(func(f *flag.Flag) {
		if !notInFile[f.Name] {
			keys = append(keys, fileKey(f.Name))
		}
	})
	sort.Strings(keys)
	return keys
}

// Validate checks every setting and names the first bad one with what to do. Its errors
// are *SettingError.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return bad("data", "is empty: name the data directory (entente init --data DIR creates one)")
	}
	host, port, err := net.SplitHostPort(c.APIAddr)
	if err != nil {
		return bad("api_addr", "%q: want host:port, for example 127.0.0.1:8443", c.APIAddr)
	}
	if _, err := net.LookupPort("tcp", port); err != nil || port == "" {
		return bad("api_addr", "%q: bad port %q", c.APIAddr, port)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return bad("api_addr", "%q: bad host %q", c.APIAddr, host)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return bad("log_format", "%q: want text or json", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("log_level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 64<<20 {
		return bad("max_body_bytes", "%d: want between 1024 and %d", c.MaxBodyBytes, 64<<20)
	}
	if c.ShutdownTimeout <= 0 || c.ShutdownTimeout > 10*time.Minute {
		return bad("shutdown_timeout", "%s: want more than 0 and at most 10m", c.ShutdownTimeout)
	}
	if c.TokenMaxTTL < time.Minute || c.TokenMaxTTL > 366*24*time.Hour {
		return bad("token_max_ttl", "%s: want between 1m and 8784h (366 days)", c.TokenMaxTTL)
	}
	for _, a := range []struct{ key, v string }{{"raft_addr", c.RaftAddr}, {"gossip_addr", c.GossipAddr}} {
		if _, port, err := net.SplitHostPort(a.v); err != nil || port == "" || port == "0" {
			return bad(a.key, "%q: want host:port with a fixed port, for example 127.0.0.1:7443", a.v)
		}
	}
	if c.RaftHeartbeat < 50*time.Millisecond || c.RaftHeartbeat > time.Minute {
		return bad("raft_heartbeat", "%s: want between 50ms and 1m", c.RaftHeartbeat)
	}
	if c.PprofAddr != "" {
		host, _, err := net.SplitHostPort(c.PprofAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return bad("pprof_addr", "%q: the profiler is served on a loopback address only, for example 127.0.0.1:6060", c.PprofAddr)
		}
	}
	if c.RaftSnapshotThreshold < 16 || c.RaftTrailingLogs < 1 {
		return bad("raft_snapshot_threshold", "%d (trailing %d): want at least 16 entries, and at least 1 trailing", c.RaftSnapshotThreshold, c.RaftTrailingLogs)
	}
	if c.RaftSnapshotInterval < 100*time.Millisecond || c.RaftSnapshotInterval > 24*time.Hour {
		return bad("raft_snapshot_interval", "%s: want between 100ms and 24h", c.RaftSnapshotInterval)
	}
	if c.GCPercent < 50 || c.GCPercent > 1000 {
		return bad("gc_percent", "%d: want between 50 and 1000", c.GCPercent)
	}
	if c.MaxConcurrent < 1 || c.MaxConcurrent > 100000 {
		return bad("max_concurrent", "%d: want between 1 and 100000", c.MaxConcurrent)
	}
	if c.RateLimit < 0 || c.RateLimit > 1e6 || c.RateLimit != c.RateLimit {
		return bad("rate_limit", "%g: want requests per second from 0 (no limit) to 1000000", c.RateLimit)
	}
	if c.RateLimit > 0 && (c.RateBurst < 1 || c.RateBurst > 1000000) {
		return bad("rate_burst", "%d: want between 1 and 1000000 while rate_limit is on", c.RateBurst)
	}
	return nil
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return true
}

// DefaultFile renders the commented config file `entente init` writes: every setting that
// the file may hold, commented out at its default, with its help text and environment name.
func DefaultFile(apiAddr string) []byte {
	c := New()
	if apiAddr != "" {
		c.APIAddr = apiAddr
	}
	fs := flag.NewFlagSet("defaults", flag.ContinueOnError)
	c.AddFlags(fs)
	var b bytes.Buffer
	b.WriteString("# Entente node configuration.\n")
	b.WriteString("# Precedence: this file, then ENTENTE_* environment variables, then flags.\n")
	b.WriteString("# Uncomment a line to change a setting; `entente serve --help` lists them too.\n\n")
	fs.VisitAll(func(f *flag.Flag) {
		if notInFile[f.Name] {
			return
		}
		fmt.Fprintf(&b, "# %s (env %s)\n", f.Usage, EnvName(f.Name))
		val := f.DefValue
		if val == "" {
			val = `""`
		}
		if f.Name == "api-addr" {
			fmt.Fprintf(&b, "%s: %s\n\n", fileKey(f.Name), val)
			return
		}
		fmt.Fprintf(&b, "#%s: %s\n\n", fileKey(f.Name), val)
	})
	return b.Bytes()
}
