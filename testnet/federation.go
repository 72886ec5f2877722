package testnet

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/node"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/client"
	"github.com/entente/entente/policy"
)

// States are the member states a test network uses, in order.
var States = []string{"FRA", "DEU", "GBR", "ITA", "NLD", "ESP", "POL", "SWE", "DNK"}

// Roles are the token roles a test network issues on every node.
var Roles = []string{"officer", "analyst", "steering", "integrator", "auditor", "operator"}

// Options configure a test network.
type Options struct {
	Bin   string // the entente binary; empty builds one
	Dir   string // where the nodes' data directories, the genesis and testnet.json go
	Nodes int    // how many states (1 to len(States))
	// Voters is how many of the first states vote (the steering body); 0 means
	// min(Nodes, 3).
	Voters int
	// FreePorts picks free ports (tests running side by side); otherwise every node
	// listens on 8443 (API), 7443 (raft) and 7946 (gossip) on its own 127.0.0.x address.
	FreePorts bool
	// Policy is the federation policy; nil means a demo policy with windows in seconds.
	Policy *policy.Policy
	// Heartbeat is raft's heartbeat; 0 means 300ms.
	Heartbeat time.Duration
	// Extra are further flags for every entente serve.
	Extra []string
	// RateLimits keeps the nodes' per-token rate limits (see Node.RateLimits).
	RateLimits bool
	// Seed nominates and lists parties from the real lists, and publishes indicators.
	Seed bool
	// LogFiles sends each node's output to DATA/serve.log and starts it in its own
	// session, so that it outlives the command that started it.
	LogFiles bool
	// PprofPort, when set, serves each node's profiler on its own address at this port.
	PprofPort int
	// Progress, when set, is told what is happening.
	Progress func(string)
}

// DemoPolicy is the default policy with deadlines short enough to watch a nomination go
// through its whole lifecycle in a demo.
func DemoPolicy() policy.Policy {
	p := policy.DefaultPolicy()
	p.Voting.Consultation = policy.Duration(20 * time.Second)
	p.Voting.Appeal = policy.Duration(30 * time.Second)
	p.Voting.Review = policy.Duration(time.Hour)
	p.Voting.Grace = policy.Duration(10 * time.Minute)
	p.Voting.ChairRotation = policy.Duration(5 * time.Minute)
	return p
}

// Net is a running test network.
type Net struct {
	Dir     string
	Genesis string
	Nodes   []*Node
	// Tokens[i][role] is a token for node i.
	Tokens []map[string]string

	opts Options
	key  []byte
}

// Manifest is DIR/testnet.json: what scripts and tests need to drive the network.
type Manifest struct {
	Federation string         `json:"federation"`
	Genesis    string         `json:"genesis"`
	Nodes      []ManifestNode `json:"nodes"`
}

// ManifestNode is one node in the manifest.
type ManifestNode struct {
	State      string            `json:"state"`
	APIURL     string            `json:"api_url"`
	DataDir    string            `json:"data_dir"`
	PID        int               `json:"pid"`
	RaftAddr   string            `json:"raft_addr"`
	GossipAddr string            `json:"gossip_addr"`
	TLSPin     string            `json:"tls_pin"`
	Tokens     map[string]string `json:"tokens"`
}

// ManifestFile is the manifest's name in the network's directory.
const ManifestFile = "testnet.json"

func (o *Options) say(format string, args ...any) {
	if o.Progress != nil {
		o.Progress(fmt.Sprintf(format, args...))
	}
}

// Up creates and starts a federation of o.Nodes real node processes.
func Up(ctx context.Context, o Options) (*Net, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	net, addrs, err := create(o, func(i int) (nodeAddrs, error) {
		ip := fmt.Sprintf("127.0.0.%d", 11+i)
		a := nodeAddrs{API: ip + ":8443", Raft: ip + ":7443", Gossip: ip + ":7946"}
		if o.FreePorts {
			var err error
			if a.API, err = FreeAddr(ip); err == nil {
				if a.Raft, err = FreeAddr(ip); err == nil {
					a.Gossip, err = FreeAddr(ip)
				}
			}
			if err != nil {
				return a, err
			}
		}
		return a, nil
	})
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(net.Nodes))
	for i, n := range net.Nodes {
		n.Flags = append([]string{"--genesis", net.Genesis, "--raft-addr", addrs[i].Raft, "--gossip-addr", addrs[i].Gossip,
			"--raft-heartbeat", o.Heartbeat.String()}, o.Extra...)
		if o.PprofPort > 0 {
			host, _, _ := strings.Cut(addrs[i].Raft, ":")
			n.Flags = append(n.Flags, "--pprof-addr", fmt.Sprintf("%s:%d", host, o.PprofPort))
		}
		wg.Add(1)
		go func(i int, n *Node) {
			defer wg.Done()
			errs[i] = n.Start(ctx, n.Flags...)
		}(i, n)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = net.Down(10 * time.Second)
		return nil, err
	}
	o.say("%d nodes started; waiting for a leader", len(net.Nodes))
	if err := net.issueTokens(); err != nil {
		_ = net.Down(10 * time.Second)
		return nil, err
	}
	if _, err := net.WaitLeader(ctx); err != nil {
		_ = net.Down(10 * time.Second)
		return nil, err
	}
	if err := net.WaitKeyEpochs(ctx); err != nil {
		_ = net.Down(10 * time.Second)
		return nil, err
	}
	if o.Seed {
		o.say("seeding demo data from the UN consolidated list")
		if err := net.SeedDemo(ctx); err != nil {
			_ = net.Down(10 * time.Second)
			return nil, err
		}
	}
	if err := net.WriteManifest(); err != nil {
		return nil, err
	}
	return net, nil
}

// defaults fills in what o leaves to its defaults and checks the rest.
func (o *Options) defaults() error {
	if o.Nodes < 1 || o.Nodes > len(States) {
		return fmt.Errorf("testnet: nodes: want 1 to %d", len(States))
	}
	if o.Voters == 0 {
		o.Voters = min(o.Nodes, 3)
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = 300 * time.Millisecond
	}
	if o.Bin == "" {
		var err error
		if o.Bin, err = Binary(); err != nil {
			return err
		}
	}
	return nil
}

// nodeAddrs are the addresses one node's member card names: its API, its cluster port
// (raft) and its gossip port.
type nodeAddrs struct{ API, Raft, Gossip string }

// create makes o.Nodes node data directories in o.Dir with `entente init`, each at the
// addresses addrsFor gives it, then the federation's gossip key (copied into every node's
// directory) and the genesis naming them all. It starts nothing: node processes (Up) and
// containers (DockerUp) start from the same directories, made the same way.
func create(o Options, addrsFor func(i int) (nodeAddrs, error)) (*Net, []nodeAddrs, error) {
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(filepath.Join(o.Dir, ManifestFile)); err == nil {
		return nil, nil, fmt.Errorf("testnet: %s already holds a network (entente testnet down --dir %s, or use another directory)", o.Dir, o.Dir)
	}
	t := &Net{Dir: o.Dir, Genesis: filepath.Join(o.Dir, "genesis.json"), opts: o}
	var cards []identity.Card
	var addrs []nodeAddrs
	for i := 0; i < o.Nodes; i++ {
		state := States[i]
		a, err := addrsFor(i)
		if err != nil {
			return nil, nil, err
		}
		host, _, _ := strings.Cut(a.Raft, ":")
		o.say("creating %s on %s", state, host)
		n, err := InitFederated(o.Bin, filepath.Join(o.Dir, strings.ToLower(state)), state, a.API, a.Raft, a.Gossip)
		if err != nil {
			return nil, nil, err
		}
		n.LogFile, n.RateLimits = o.LogFiles, o.RateLimits
		t.Nodes = append(t.Nodes, n)
		cards = append(cards, n.Card)
		addrs = append(addrs, a)
	}
	keyFile := filepath.Join(o.Dir, "gossip.key")
	if err := node.GenerateGossipKey(keyFile); err != nil {
		return nil, nil, err
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	t.key = key
	pol := DemoPolicy()
	if o.Policy != nil {
		pol = *o.Policy
	}
	g, err := node.BuildGenesis("testnet", cards, States[:o.Voters], nil, pol)
	if err != nil {
		return nil, nil, err
	}
	gb, _ := json.MarshalIndent(g, "", "  ")
	if err := os.WriteFile(t.Genesis, gb, 0o644); err != nil {
		return nil, nil, err
	}
	for _, n := range t.Nodes {
		if err := os.WriteFile(filepath.Join(n.DataDir, "gossip.key"), key, 0o600); err != nil {
			return nil, nil, err
		}
	}
	return t, addrs, nil
}

// issueTokens issues a token for every role on every node, through each node's admin
// socket.
func (t *Net) issueTokens() error {
	for _, n := range t.Nodes {
		toks, err := issueRoleTokens(n)
		if err != nil {
			return err
		}
		t.Tokens = append(t.Tokens, toks)
	}
	return nil
}

func issueRoleTokens(n *Node) (map[string]string, error) {
	toks := map[string]string{}
	for _, role := range Roles {
		tok, _, err := n.IssueToken(role, "testnet-"+role, "24h")
		if err != nil {
			return nil, err
		}
		toks[role] = tok
	}
	return toks, nil
}

// AddNode starts a node for the next state in States that the genesis does not name: it
// joins, waiting for the voters to admit it (see federation admit). It returns the node's
// index and its member card file.
func (t *Net) AddNode(ctx context.Context) (int, string, error) {
	i := len(t.Nodes)
	if i >= len(States) {
		return 0, "", errors.New("testnet: no more states")
	}
	state, ip := States[i], fmt.Sprintf("127.0.0.%d", 11+i)
	var addrs [3]string
	for j := range addrs {
		var err error
		if addrs[j], err = FreeAddr(ip); err != nil {
			return 0, "", err
		}
	}
	n, err := InitFederated(t.opts.Bin, filepath.Join(t.Dir, strings.ToLower(state)), state, addrs[0], addrs[1], addrs[2])
	if err != nil {
		return 0, "", err
	}
	if err := os.WriteFile(filepath.Join(n.DataDir, "gossip.key"), t.key, 0o600); err != nil {
		return 0, "", err
	}
	n.RateLimits = t.opts.RateLimits
	n.Flags = append([]string{"--genesis", t.Genesis, "--raft-addr", addrs[1], "--gossip-addr", addrs[2],
		"--raft-heartbeat", t.opts.Heartbeat.String(), "--join"}, t.opts.Extra...)
	if err := n.Start(ctx, n.Flags...); err != nil {
		return 0, "", err
	}
	toks, err := issueRoleTokens(n)
	if err != nil {
		return 0, "", err
	}
	t.Nodes = append(t.Nodes, n)
	t.Tokens = append(t.Tokens, toks)
	return i, filepath.Join(n.DataDir, identity.CardFile), nil
}

// WriteManifest writes DIR/testnet.json.
func (t *Net) WriteManifest() error {
	m := Manifest{Federation: "testnet", Genesis: t.Genesis}
	for i, n := range t.Nodes {
		m.Nodes = append(m.Nodes, ManifestNode{State: n.State, APIURL: n.URL(), DataDir: n.DataDir, PID: n.PID(),
			RaftAddr: n.Card.RaftAddr, GossipAddr: n.Card.GossipAddr, TLSPin: n.Card.TLSPin, Tokens: t.Tokens[i]})
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	return os.WriteFile(filepath.Join(t.Dir, ManifestFile), b, 0o600)
}

// Client returns a verifying client for node i with the token of role.
func (t *Net) Client(i int, role string) (*client.Client, error) {
	return t.Nodes[i].Client(t.Tokens[i][role])
}

// Status is a node's federation status.
type Status struct {
	State     string `json:"state"`
	Role      string `json:"raft_role"`
	Leader    string `json:"leader"`
	Applied   uint64 `json:"applied_index"`
	StateHash string `json:"state_hash"`
	// KeyEpochs is the furthest key epoch each member has published.
	KeyEpochs map[string]uint64 `json:"key_epochs"`
}

// Status asks node i for its federation status.
func (t *Net) Status(ctx context.Context, i int) (Status, error) {
	var s Status
	c, err := t.Client(i, "operator")
	if err != nil {
		return s, err
	}
	defer c.CloseIdle()
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err = c.JSON(rctx, "GET", "/v1/federation/status", nil, &s)
	return s, err
}

// WaitLeader waits until every running node names the same leader, and returns its index.
func (t *Net) WaitLeader(ctx context.Context) (int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		leader, agreed := "", true
		for i, n := range t.Nodes {
			if !n.Running() {
				continue
			}
			s, err := t.Status(ctx, i)
			if err != nil || s.Leader == "" || (leader != "" && s.Leader != leader) {
				agreed = false
				break
			}
			leader = s.Leader
		}
		if agreed && leader != "" {
			for i, n := range t.Nodes {
				if n.State == leader {
					return i, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return -1, errors.New("testnet: no agreed leader within 30s")
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitKeyEpochs waits until every running node sees every running member's key epochs
// published as far as the longest retention of a shared kind, after which values of any
// kind can be sealed to all of them.
func (t *Net) WaitKeyEpochs(ctx context.Context) error {
	pol := DemoPolicy()
	if t.opts.Policy != nil {
		pol = *t.opts.Policy
	}
	var need uint64
	for _, kind := range []string{"denied-party", "end-user-of-concern", "debarred-supplier", "indicator"} {
		need = max(need, pol.Epoch(time.Now().Add(pol.RetentionFor(kind))))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		done, why := true, ""
		for i, n := range t.Nodes {
			if !n.Running() {
				continue
			}
			s, err := t.Status(ctx, i)
			if err != nil {
				done, why = false, err.Error()
				break
			}
			for _, m := range t.Nodes {
				if e := s.KeyEpochs[m.State]; m.Running() && e < need {
					done, why = false, fmt.Sprintf("%s sees key epochs of %s up to %d, not yet %d", n.State, m.State, e, need)
				}
			}
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testnet: key epochs not published within 30s: %s", why)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Down stops every node with SIGTERM and waits for each to exit.
func (t *Net) Down(timeout time.Duration) error {
	var errs []error
	for _, n := range t.Nodes {
		if err := n.Stop(timeout); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.State, err))
		}
	}
	_ = os.Remove(filepath.Join(t.Dir, ManifestFile))
	return errors.Join(errs...)
}

// ReadManifest reads DIR/testnet.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("testnet: no network in %s: %w", dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("testnet: %s: %w", ManifestFile, err)
	}
	return &m, nil
}

// DownDir stops the network described by DIR/testnet.json, started by another process.
func DownDir(dir string, timeout time.Duration) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range m.Nodes {
		if n.PID <= 0 {
			continue
		}
		p, err := os.FindProcess(n.PID)
		if err != nil {
			continue
		}
		_ = p.Signal(syscall.SIGTERM)
		deadline := time.Now().Add(timeout)
		for p.Signal(syscall.Signal(0)) == nil {
			if time.Now().After(deadline) {
				_ = p.Signal(syscall.SIGKILL)
				errs = append(errs, fmt.Errorf("%s (pid %d) did not stop within %s and was killed", n.State, n.PID, timeout))
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	_ = os.Remove(filepath.Join(dir, ManifestFile))
	return errors.Join(errs...)
}

//go:embed testdata/demo_parties.json
var demoParties []byte

// SeedDemo nominates parties taken from the UN Security Council consolidated list from
// different states, has the other voters endorse them, and publishes two indicators.
func (t *Net) SeedDemo(ctx context.Context) error {
	var d struct {
		Entities []struct {
			Name        string   `json:"name"`
			Aliases     []string `json:"aliases"`
			UNReference string   `json:"un_reference"`
			Regime      string   `json:"regime"`
			Countries   []string `json:"countries"`
		} `json:"entities"`
	}
	if err := json.Unmarshal(demoParties, &d); err != nil {
		return err
	}
	for i, e := range d.Entities {
		from := i % min(len(t.Nodes), 3)
		party := map[string]any{"type": "organisation", "name": e.Name, "aliases": e.Aliases, "countries": e.Countries,
			"identifiers": []any{map[string]any{"scheme": "other", "value": "UN " + e.UNReference}}}
		pb, _ := json.Marshal(party)
		req := api.NominationRequest{ID: fmt.Sprintf("%s-UN-%s", t.Nodes[from].State, e.UNReference), Kind: "denied-party", Party: pb,
			Basis: api.Basis{Regime: e.Regime, ControlCodes: []string{"ML10", "ML4"}}, Rationale: "listed by the UN Security Council (" + e.UNReference + ")"}
		var res api.FedResult
		if err := t.call(ctx, from, "officer", "POST", "/v1/watchlist/nominations", req, &res); err != nil {
			return fmt.Errorf("seed nomination %s: %w", req.ID, err)
		}
		for j := range t.Nodes {
			if j == from {
				continue
			}
			if err := t.call(ctx, j, "officer", "POST", "/v1/watchlist/"+req.ID+"/votes", api.VoteRequest{Position: "endorse"}, nil); err != nil {
				return fmt.Errorf("seed vote on %s: %w", req.ID, err)
			}
		}
	}
	for i, in := range []api.IndicatorRequest{
		{Kind: "diversion", Subject: "COD", Severity: 4, Evidence: "consignment of ML10 spares re-routed through a third country"},
		{Kind: "destination", Subject: "CAF", Severity: 5, Evidence: "arms embargo in force; repeated diversion reports"},
	} {
		in.ValidUntil = time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)
		if err := t.call(ctx, i%len(t.Nodes), "officer", "POST", "/v1/indicators", in, nil); err != nil {
			return fmt.Errorf("seed indicator: %w", err)
		}
	}
	return nil
}

func (t *Net) call(ctx context.Context, i int, role, method, path string, body, out any) error {
	c, err := t.Client(i, role)
	if err != nil {
		return err
	}
	defer c.CloseIdle()
	var last error
	for attempt := 0; attempt < 20; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		last = c.JSON(rctx, method, path, body, out)
		cancel()
		var ae *client.APIError
		if last == nil || !errors.As(last, &ae) || ae.Status != 503 {
			return last
		}
		time.Sleep(200 * time.Millisecond) // no leader yet: an election is under way
	}
	return last
}
