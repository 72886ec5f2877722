// Package testnet starts real Entente node processes on this machine (each with its own
// data directory and loopback address) and drives them through the CLI and the signed API.
// It is the harness of the integration tests; nothing but tests imports it.
package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node/client"
)

// build is one binary built once per test process.
type build struct {
	once sync.Once
	path string
	err  error
}

var plain, withCrashpoints build

// Binary builds the entente binary once per test process and returns its path.
func Binary() (string, error) { return plain.get() }

// CrashpointBinary builds, once per test process, the entente binary with the crash
// points compiled in (build tag crashpoints): ENTENTE_CRASHPOINT=NAME[:N] in a node's
// environment kills it the Nth time it reaches that point of a write path.
func CrashpointBinary() (string, error) { return withCrashpoints.get("-tags", "crashpoints") }

func (b *build) get(flags ...string) (string, error) {
	b.once.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			b.err = fmt.Errorf("testnet: go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := os.MkdirTemp("", "entente-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "entente")
		cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", b.path, "./cmd/entente")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("testnet: build entente: %v\n%s", err, out)
		}
	})
	return b.path, b.err
}

// RemoveBinary deletes the binaries Binary and CrashpointBinary built; call it from
// TestMain after the tests.
func RemoveBinary() {
	for _, b := range []*build{&plain, &withCrashpoints} {
		if b.path != "" {
			_ = os.RemoveAll(filepath.Dir(b.path))
		}
	}
}

// FreeAddr returns host:port on ip with a port that was free a moment ago.
func FreeAddr(ip string) (string, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Node is one node process and its data directory.
type Node struct {
	Bin     string
	State   string
	DataDir string
	APIAddr string
	Card    identity.Card
	// Flags are extra serve flags; Restart reuses them.
	Flags []string
	// LogFile sends the node's output to DATA/serve.log and starts it in its own session.
	LogFile bool
	// RateLimits keeps the node's per-token rate limits (rate_limit, rate_burst). Off by
	// default: tests and benchmarks drive one token far harder than a fair integrator
	// would. A test of the limits can also set them in the flags, which come after.
	RateLimits bool
	// Env is added to the environment of the next starts (a crash point, say); the
	// test's own ENTENTE_* variables never reach a node.
	Env []string

	// running, when set, answers Running for a node this package did not start as a
	// process of its own: a container (see DockerUp).
	running func() bool

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs *syncBuffer
	err  error
}

// Run runs the entente binary with args and returns its standard output; a failure
// carries standard error.
func Run(bin string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = cleanEnv()
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("entente %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// cleanEnv keeps ENTENTE_* variables of the test's environment out of child processes.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ENTENTE_") {
			env = append(env, kv)
		}
	}
	return env
}

// Init creates a node with `entente init` in dir, listening on apiAddr once started.
func Init(bin, dir, state, apiAddr string) (*Node, error) {
	return initNode(bin, dir, state, "--api-addr", apiAddr)
}

// InitFederated creates a node whose member card names its cluster and gossip ports.
func InitFederated(bin, dir, state, apiAddr, raftAddr, gossipAddr string) (*Node, error) {
	return initNode(bin, dir, state, "--api-addr", apiAddr, "--raft-addr", raftAddr, "--gossip-addr", gossipAddr)
}

func initNode(bin, dir, state string, flags ...string) (*Node, error) {
	apiAddr := flags[1]
	out, err := Run(bin, append([]string{"init", "--state", state, "--data", dir}, flags...)...)
	if err != nil {
		return nil, err
	}
	card, err := identity.ParseCard([]byte(out))
	if err != nil {
		return nil, fmt.Errorf("testnet: init printed no member card: %w\n%s", err, out)
	}
	return &Node{Bin: bin, State: state, DataDir: dir, APIAddr: apiAddr, Card: card}, nil
}

// Start starts `entente serve` with extra flags and waits until /readyz answers.
func (n *Node) Start(ctx context.Context, extra ...string) error {
	n.mu.Lock()
	if n.cmd != nil {
		n.mu.Unlock()
		return errors.New("testnet: node already running")
	}
	args := []string{"serve", "--data", n.DataDir, "--api-addr", n.APIAddr, "--log-level", "debug"}
	if !n.RateLimits {
		args = append(args, "--rate-limit", "0")
	}
	args = append(args, extra...)
	cmd := exec.Command(n.Bin, args...)
	n.logs = &syncBuffer{}
	cmd.Stdout, cmd.Stderr = n.logs, n.logs
	if n.LogFile {
		f, err := os.OpenFile(filepath.Join(n.DataDir, "serve.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			n.mu.Unlock()
			return err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	cmd.Env = append(cleanEnv(), n.Env...)
	if err := cmd.Start(); err != nil {
		n.mu.Unlock()
		return err
	}
	done := make(chan struct{})
	n.cmd, n.done, n.err = cmd, done, nil
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		n.mu.Lock()
		n.err = err
		n.mu.Unlock()
		close(done)
	}()
	return n.waitReady(ctx, done)
}

func (n *Node) waitReady(ctx context.Context, done chan struct{}) error {
	c, err := n.Client("")
	if err != nil {
		return err
	}
	defer c.CloseIdle()
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.Do(rctx, "GET", "/readyz", nil, nil)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("testnet: %s exited before it was ready: %v\n%s", n.State, n.exitErr(), n.Logs())
		case <-ctx.Done():
			return fmt.Errorf("testnet: %s not ready: %v (last error %v)\n%s", n.State, ctx.Err(), err, n.Logs())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (n *Node) exitErr() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err
}

// Stop sends SIGTERM and waits for a clean exit; it reports a non-zero exit status.
func (n *Node) Stop(timeout time.Duration) error { return n.signal(syscall.SIGTERM, timeout) }

// Kill sends SIGKILL and waits for the process to go.
func (n *Node) Kill() error {
	err := n.signal(syscall.SIGKILL, 10*time.Second)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil
	}
	return err
}

func (n *Node) signal(sig syscall.Signal, timeout time.Duration) error {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("testnet: %s did not stop within %s\n%s", n.State, timeout, n.Logs())
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cmd = nil
	return n.err
}

// PID is the running process's id, or 0.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Running reports whether the node's process (or its container) is up.
func (n *Node) Running() bool {
	if n.running != nil {
		return n.running()
	}
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Restart starts the node again with the flags it had.
func (n *Node) Restart(ctx context.Context) error { return n.Start(ctx, n.Flags...) }

// Logs returns what the process wrote so far.
func (n *Node) Logs() string {
	if n.logs == nil {
		return ""
	}
	return n.logs.String()
}

// URL is the node's API base URL.
func (n *Node) URL() string { return "https://" + n.APIAddr }

// KeySet reads the node's current JWKS from its data directory.
func (n *Node) KeySet() (*jws.KeySet, error) {
	b, err := os.ReadFile(filepath.Join(n.DataDir, "keys", "jwks.json"))
	if err != nil {
		return nil, err
	}
	return jws.ParseKeySet(b)
}

// Client returns an API client that pins the node's certificate and verifies every
// response against its JWKS.
func (n *Node) Client(token string) (*client.Client, error) {
	ks, err := n.KeySet()
	if err != nil {
		return nil, err
	}
	return client.New(n.URL(), client.Options{Token: token, TLSPin: n.Card.TLSPin, Keys: ks, Timeout: 10 * time.Second, RefreshKeys: n.KeySet})
}

// IssueToken issues a token with `entente token issue` and returns it with its id.
func (n *Node) IssueToken(role, subject, ttl string) (token, id string, err error) {
	out, err := Run(n.Bin, "token", "issue", "--data", n.DataDir, "--role", role, "--subject", subject, "--ttl", ttl, "--json")
	if err != nil {
		return "", "", err
	}
	var resp struct {
		Token string `json:"token"`
		Info  struct {
			ID string `json:"id"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		return "", "", fmt.Errorf("testnet: token issue output: %w\n%s", err, out)
	}
	return resp.Token, resp.Info.ID, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
