package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Fault injection for a test network: crashes (SIGKILL), pauses (SIGSTOP/SIGCONT) and
// restarts of node processes, which need nothing special, and cuts, asymmetric cuts and
// lossy links between nodes, which need root and nftables.
//
// Why links are cut by process and not by address: every node listens on its own
// loopback address, but the kernel sources the connections a node dials from 127.0.0.1
// (the loopback route's preferred source), so a rule written on address pairs cannot tell
// which node sent a packet. Instead each node runs under its own group id (Links.Bin is a
// wrapper that execs the real binary under setpriv with a per-node gid), and the rules
// match the sending socket's group (nft meta skgid). Every connection a node opens is
// marked with its group in conntrack (ct mark), so the packets a node sends back on a
// connection another node opened can be told apart too. The rules live in one nftables
// table of this process's own (entente_testnet_<pid>_<n>, every rule commented
// entente-testnet-<pid>), hooked on output: deleting the table removes every rule at once,
// and nothing else on the machine (other tests' loopback traffic included) is matched,
// because nothing else runs under these group ids.
//
// Slow links are not offered: tc netem on lo would have to replace the loopback device's
// root qdisc, which every loopback user on the machine shares, so it cannot be scoped to
// one test's nodes (and the kernels these tests run on here have neither the netem nor
// the prio qdisc: tc answers "Specified qdisc kind is unknown"). Lossy links use an
// nftables random drop instead, which is scoped.

// ErrNoLinkFaults means link faults are unavailable here: not root, or nft or setpriv
// missing. Process faults (kill, pause, restart) still work.
var ErrNoLinkFaults = errors.New("testnet: link faults need root, nft and setpriv")

// FaultTag is the tag carried by every nftables rule and wrapper this process creates, so
// that they can be told apart from anything else on the machine and swept up if the
// process dies before it cleans up.
func FaultTag() string { return fmt.Sprintf("entente-testnet-%d", os.Getpid()) }

const (
	linksTablePrefix = "entente_testnet_"
	linksChain       = "out"
	// gidBase keeps the nodes' group ids far above any real group.
	gidBase = 1 << 30
)

var linksSeq atomic.Uint32

// Links cuts and degrades the links between the nodes of one test network.
type Links struct {
	// Bin is the wrapper to start the nodes with (Options.Bin): it runs the entente
	// binary under the node's own group id.
	Bin string
	// Tag is FaultTag(); every rule carries it as a comment.
	Tag string

	table string
	gids  map[string]uint32 // by state
	ips   map[string]string // by state, learned from the nodes named in a fault

	mu     sync.Mutex
	cuts   map[linkPair]bool // every packet from -> to is dropped
	refuse map[linkPair]bool // from cannot open connections or send datagrams to to
	loss   map[linkPair]int  // percent of packets from -> to dropped
	closed bool
}

type linkPair struct{ from, to string }

// PrepareLinks checks that link faults can be injected here, sweeps up tables left by
// test processes that died, installs this network's table and writes the wrapper binary
// into dir. Start the network with Options.Bin = Links.Bin, and Close the Links when done,
// also after a failure (a test registers Close as a cleanup). An error wrapping
// ErrNoLinkFaults means link faults cannot run here; a test skips them with its reason.
func PrepareLinks(dir string) (*Links, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: not running as root", ErrNoLinkFaults)
	}
	for _, tool := range []string{"nft", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%w: %s not found", ErrNoLinkFaults, tool)
		}
	}
	SweepStaleLinks()
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	seq := linksSeq.Add(1)
	l := &Links{Tag: FaultTag(), table: fmt.Sprintf("%s%d_%d", linksTablePrefix, os.Getpid(), seq), gids: map[string]uint32{}, ips: map[string]string{},
		cuts: map[linkPair]bool{}, refuse: map[linkPair]bool{}, loss: map[linkPair]int{}}
	for i, s := range States {
		l.gids[s] = uint32(gidBase + (os.Getpid()%(1<<20))*256 + int(seq%16)*16 + i)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	l.Bin = filepath.Join(dir, "entente-"+l.Tag)
	if err := os.WriteFile(l.Bin, []byte(l.wrapper(bin)), 0o700); err != nil {
		return nil, err
	}
	create := fmt.Sprintf("add table inet %s\nadd chain inet %s %s { type filter hook output priority 0 ; policy accept ; }\n", l.table, l.table, linksChain)
	if err := nft(create); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoLinkFaults, err)
	}
	if err := l.apply(); err != nil {
		_ = nft("delete table inet " + l.table + "\n")
		return nil, fmt.Errorf("%w: %v", ErrNoLinkFaults, err)
	}
	return l, nil
}

// wrapper is a shell script that finds the node's data directory in its arguments and
// execs the real binary under that node's group id; commands without one run as they are.
func (l *Links) wrapper(bin string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n# %s: runs each node under its own group id, so that nftables can tell its packets apart.\ngid=\nprev=\n", l.Tag)
	b.WriteString("for a in \"$@\"; do\n\tif [ \"$prev\" = \"--data\" ]; then\n\t\td=${a%/}\n\t\tcase \"${d##*/}\" in\n")
	for _, s := range States {
		fmt.Fprintf(&b, "\t\t%s) gid=%d ;;\n", strings.ToLower(s), l.gids[s])
	}
	b.WriteString("\t\tesac\n\tfi\n\tprev=$a\ndone\n")
	q := "'" + strings.ReplaceAll(bin, "'", `'\''`) + "'"
	fmt.Fprintf(&b, "if [ -n \"$gid\" ]; then\n\texec setpriv --regid \"$gid\" --clear-groups %s \"$@\"\nfi\nexec %s \"$@\"\n", q, q)
	return b.String()
}

// GID is the group id node state runs under.
func (l *Links) GID(state string) uint32 { return l.gids[state] }

func nodeIP(n *Node) (string, error) {
	host, _, err := net.SplitHostPort(n.APIAddr)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("testnet: %s listens on %s, not an IPv4 loopback address", n.State, host)
	}
	return host, nil
}

// Cut drops every packet from's process sends to to's: on connections from opens to to
// (matched by address) and on connections to opened to from (matched by the connection's
// mark). Over TCP a one-way cut stops both directions of every connection between them
// (acknowledgements are lost too); gossip's datagrams from to to from still arrive.
func (l *Links) Cut(from, to *Node) error {
	return l.change(func() error { return l.set(l.cuts, from, to, true) })
}

// Refuse stops from opening connections or sending datagrams to to, while connections
// to opens to from keep working both ways: the asymmetric cut that matters to protocols
// where one side always dials (raft's leader dials its followers).
func (l *Links) Refuse(from, to *Node) error {
	return l.change(func() error { return l.set(l.refuse, from, to, true) })
}

// Lossy drops percent of the packets from sends to to, at random.
func (l *Links) Lossy(from, to *Node, percent int) error {
	if percent < 1 || percent > 100 {
		return fmt.Errorf("testnet: loss of %d%%", percent)
	}
	return l.change(func() error {
		if err := l.check(from, to); err != nil {
			return err
		}
		l.loss[linkPair{from.State, to.State}] = percent
		return nil
	})
}

// Partition cuts every link between a node of a and a node of b, both ways. Isolating a
// node is Partition([]*Node{n}, others); a minority/majority split is the two sides.
func (l *Links) Partition(a, b []*Node) error {
	return l.change(func() error {
		for _, x := range a {
			for _, y := range b {
				if err := l.set(l.cuts, x, y, true); err != nil {
					return err
				}
				if err := l.set(l.cuts, y, x, true); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Heal removes every cut, refusal and loss; the connection marks stay, so later faults
// still see which node opened each connection.
func (l *Links) Heal() error {
	return l.change(func() error {
		clear(l.cuts)
		clear(l.refuse)
		clear(l.loss)
		return nil
	})
}

// Faulty reports whether any cut, refusal or loss is in place.
func (l *Links) Faulty() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.cuts)+len(l.refuse)+len(l.loss) > 0
}

// Close deletes the table and with it every rule. It is safe to call more than once.
func (l *Links) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return nft("delete table inet " + l.table + "\n")
}

func (l *Links) check(from, to *Node) error {
	if from == to {
		return fmt.Errorf("testnet: a link from %s to itself", from.State)
	}
	for _, n := range []*Node{from, to} {
		if _, ok := l.gids[n.State]; !ok {
			return fmt.Errorf("testnet: %s has no group id", n.State)
		}
		ip, err := nodeIP(n)
		if err != nil {
			return err
		}
		l.ips[n.State] = ip
	}
	return nil
}

func (l *Links) set(m map[linkPair]bool, from, to *Node, on bool) error {
	if err := l.check(from, to); err != nil {
		return err
	}
	if on {
		m[linkPair{from.State, to.State}] = true
	} else {
		delete(m, linkPair{from.State, to.State})
	}
	return nil
}

// change edits the wanted rules under the lock and installs them; on failure the
// previous rules are put back.
func (l *Links) change(edit func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("testnet: links closed")
	}
	cuts, refuse, loss := cloneMap(l.cuts), cloneMap(l.refuse), cloneMap(l.loss)
	err := edit()
	if err == nil {
		err = l.apply()
	}
	if err != nil {
		l.cuts, l.refuse, l.loss = cuts, refuse, loss
		_ = l.apply()
	}
	return err
}

func cloneMap[V any](m map[linkPair]V) map[linkPair]V {
	out := make(map[linkPair]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// apply replaces the chain's rules in one nft transaction, so no packet ever sees half of
// a change.
func (l *Links) apply() error {
	var b strings.Builder
	fmt.Fprintf(&b, "flush chain inet %s %s\n", l.table, linksChain)
	rule := func(format string, args ...any) {
		fmt.Fprintf(&b, "add rule inet %s %s %s comment %q\n", l.table, linksChain, fmt.Sprintf(format, args...), l.Tag)
	}
	states := make([]string, 0, len(l.gids))
	for s := range l.gids {
		states = append(states, s)
	}
	slices.Sort(states)
	for _, s := range states {
		rule("meta skgid %d ct state new ct mark set %d", l.gids[s], l.gids[s])
	}
	ip := func(state string) string { return l.ips[state] } // learned by check()
	for _, p := range sortedPairs(l.cuts) {
		rule("meta skgid %d ip daddr %s drop", l.gids[p.from], ip(p.to))
		rule("meta skgid %d ct mark %d drop", l.gids[p.from], l.gids[p.to])
	}
	for _, p := range sortedPairs(l.refuse) {
		rule("meta skgid %d ip daddr %s drop", l.gids[p.from], ip(p.to))
	}
	for _, p := range sortedPairs(l.loss) {
		rule("meta skgid %d ip daddr %s numgen random mod 100 < %d drop", l.gids[p.from], ip(p.to), l.loss[p])
		rule("meta skgid %d ct mark %d numgen random mod 100 < %d drop", l.gids[p.from], l.gids[p.to], l.loss[p])
	}
	return nft(b.String())
}

func sortedPairs[V any](m map[linkPair]V) []linkPair {
	out := make([]linkPair, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b linkPair) int {
		if c := strings.Compare(a.from, b.from); c != 0 {
			return c
		}
		return strings.Compare(a.to, b.to)
	})
	return out
}

func nft(script string) error {
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// SweepStaleLinks deletes the tables of test processes that are gone (killed by a test
// timeout, say, before their cleanup ran). Only tables named by this package are looked
// at, and only those whose process no longer exists are deleted.
func SweepStaleLinks() {
	out, err := exec.Command("nft", "list", "tables").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "table" || f[1] != "inet" || !strings.HasPrefix(f[2], linksTablePrefix) {
			continue
		}
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(f[2], linksTablePrefix), "_")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = nft("delete table inet " + f[2] + "\n")
		}
	}
}

// Pause stops the node's process with SIGSTOP: it keeps its sockets and its state but
// answers nothing, like a host that froze. A paused leader that is resumed still
// believes it leads until it hears otherwise, which is what stale reads are made of.
func (n *Node) Pause() error { return n.sendSignal(syscall.SIGSTOP) }

// Resume continues a paused node with SIGCONT.
func (n *Node) Resume() error { return n.sendSignal(syscall.SIGCONT) }

func (n *Node) sendSignal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return fmt.Errorf("testnet: %s is not running", n.State)
	}
	return n.cmd.Process.Signal(sig)
}

// Faults injects faults into one network and remembers what it did, so that HealAll and
// Close can undo all of it: resume what it paused, restart what it killed, heal the links.
type Faults struct {
	Net *Net
	// Links is nil when link faults are unavailable; the link methods then return
	// ErrNoLinkFaults.
	Links *Links

	mu     sync.Mutex
	paused map[*Node]bool
	killed map[*Node]bool
	past   map[*Node][]string // output of earlier incarnations, oldest first
}

// NewFaults returns an injector for net; links may be nil.
func NewFaults(net *Net, links *Links) *Faults {
	return &Faults{Net: net, Links: links, paused: map[*Node]bool{}, killed: map[*Node]bool{}, past: map[*Node][]string{}}
}

// Logs returns everything node i wrote in every incarnation this injector restarted, not
// only since its last start (Node.Logs): a panic or a goroutine dump before a kill must
// not be lost.
func (f *Faults) Logs(i int) string {
	n := f.Net.Nodes[i]
	f.mu.Lock()
	past := slices.Clone(f.past[n])
	f.mu.Unlock()
	var b strings.Builder
	for j, l := range past {
		fmt.Fprintf(&b, "==== %s, incarnation %d ====\n%s", n.State, j+1, l)
	}
	fmt.Fprintf(&b, "==== %s, incarnation %d (current) ====\n%s", n.State, len(past)+1, n.Logs())
	return b.String()
}

// Kill sends SIGKILL to node i and waits for it to go: no shutdown, no final fsync.
func (f *Faults) Kill(i int) error {
	n := f.Net.Nodes[i]
	f.mu.Lock()
	delete(f.paused, n) // SIGKILL ends a stopped process too: nothing left to resume
	f.killed[n] = true
	f.mu.Unlock()
	return n.Kill()
}

// Restart starts a killed node again with its flags and waits until it is ready.
func (f *Faults) Restart(ctx context.Context, i int) error {
	n := f.Net.Nodes[i]
	prev := n.Logs() // Start replaces the node's log buffer
	f.mu.Lock()
	f.past[n] = append(f.past[n], prev)
	f.mu.Unlock()
	if err := n.Restart(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	delete(f.killed, n)
	f.mu.Unlock()
	return nil
}

// Pause freezes node i (SIGSTOP).
func (f *Faults) Pause(i int) error {
	n := f.Net.Nodes[i]
	if err := n.Pause(); err != nil {
		return err
	}
	f.mu.Lock()
	f.paused[n] = true
	f.mu.Unlock()
	return nil
}

// Resume continues node i (SIGCONT).
func (f *Faults) Resume(i int) error {
	n := f.Net.Nodes[i]
	f.mu.Lock()
	delete(f.paused, n)
	f.mu.Unlock()
	return n.Resume()
}

func (f *Faults) links() (*Links, error) {
	if f.Links == nil {
		return nil, ErrNoLinkFaults
	}
	return f.Links, nil
}

func (f *Faults) nodes(idx []int) []*Node {
	out := make([]*Node, len(idx))
	for j, i := range idx {
		out[j] = f.Net.Nodes[i]
	}
	return out
}

// Isolate cuts node i off from every other node, both ways. Clients (this process)
// still reach it: an isolated leader keeps being asked, and must not answer linearizable
// reads from its stale state.
func (f *Faults) Isolate(i int) error {
	var others []int
	for j := range f.Net.Nodes {
		if j != i {
			others = append(others, j)
		}
	}
	return f.Split([]int{i}, others)
}

// Split partitions the nodes a from the nodes b, both ways (a minority/majority split
// when a and b are the two sides).
func (f *Faults) Split(a, b []int) error {
	l, err := f.links()
	if err != nil {
		return err
	}
	return l.Partition(f.nodes(a), f.nodes(b))
}

// CutOneWay drops every packet from node i to node j.
func (f *Faults) CutOneWay(i, j int) error {
	l, err := f.links()
	if err != nil {
		return err
	}
	return l.Cut(f.Net.Nodes[i], f.Net.Nodes[j])
}

// RefuseOneWay stops node i from opening connections to node j (see Links.Refuse).
func (f *Faults) RefuseOneWay(i, j int) error {
	l, err := f.links()
	if err != nil {
		return err
	}
	return l.Refuse(f.Net.Nodes[i], f.Net.Nodes[j])
}

// Lossy drops percent of the packets between node i and every other node, both ways.
func (f *Faults) Lossy(i, percent int) error {
	l, err := f.links()
	if err != nil {
		return err
	}
	for j, m := range f.Net.Nodes {
		if j == i {
			continue
		}
		if err := l.Lossy(f.Net.Nodes[i], m, percent); err != nil {
			return err
		}
		if err := l.Lossy(m, f.Net.Nodes[i], percent); err != nil {
			return err
		}
	}
	return nil
}

// HealNetwork removes every link fault.
func (f *Faults) HealNetwork() error {
	if f.Links == nil {
		return nil
	}
	return f.Links.Heal()
}

// HealAll undoes every fault: links healed, paused nodes resumed, killed nodes
// restarted (each waited for until ready, within ctx).
func (f *Faults) HealAll(ctx context.Context) error {
	errs := []error{f.HealNetwork()}
	f.mu.Lock()
	var paused, killed []*Node
	for n := range f.paused {
		paused = append(paused, n)
	}
	for n := range f.killed {
		killed = append(killed, n)
	}
	f.mu.Unlock()
	for _, n := range paused {
		for i, m := range f.Net.Nodes {
			if m == n {
				errs = append(errs, f.Resume(i))
			}
		}
	}
	for _, n := range killed {
		for i, m := range f.Net.Nodes {
			if m == n && !n.Running() {
				errs = append(errs, f.Restart(ctx, i))
			}
		}
	}
	return errors.Join(errs...)
}

// Close resumes every paused node (a stopped process would ignore the SIGTERM that
// stops the network) and removes every link rule. Killed nodes stay down.
func (f *Faults) Close() error {
	var errs []error
	f.mu.Lock()
	for n := range f.paused {
		errs = append(errs, n.Resume())
	}
	clear(f.paused)
	f.mu.Unlock()
	if f.Links != nil {
		errs = append(errs, f.Links.Close())
	}
	return errors.Join(errs...)
}

// waitFor polls cond every interval until it holds, ctx ends or d passes; it returns the
// last reason cond gave on failure. Every wait in fault injection is bounded by it.
func waitFor(ctx context.Context, d, interval time.Duration, cond func() (bool, string)) error {
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s: %s", d, why)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s", ctx.Err(), why)
		case <-time.After(interval):
		}
	}
}

// Leader asks every running node that answers within a short time whom it follows, and
// returns the index of the leader most of them name, with how many named it. It does not
// wait, so it can be used while some nodes are paused or cut off.
func (f *Faults) Leader(ctx context.Context) (int, int) {
	votes := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, n := range f.Net.Nodes {
		if !n.Running() || f.isPaused(n) {
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if s, err := f.Net.Status(sctx, i); err == nil && s.Leader != "" {
				mu.Lock()
				votes[s.Leader]++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	best, count := "", 0
	for l, c := range votes {
		if c > count || (c == count && l < best) {
			best, count = l, c
		}
	}
	for i, n := range f.Net.Nodes {
		if n.State == best {
			return i, count
		}
	}
	return -1, 0
}

func (f *Faults) isPaused(n *Node) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paused[n]
}

// WaitLeaderAmong waits, for at most d, until every node of among that runs and is not
// paused names the same leader, one of among other than not (-1 for any), and returns it.
func (f *Faults) WaitLeaderAmong(ctx context.Context, among []int, not int, d time.Duration) (int, error) {
	leader := -1
	err := waitFor(ctx, d, 150*time.Millisecond, func() (bool, string) {
		name := ""
		for _, i := range among {
			n := f.Net.Nodes[i]
			if !n.Running() || f.isPaused(n) {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			s, err := f.Net.Status(sctx, i)
			cancel()
			if err != nil {
				return false, fmt.Sprintf("%s: %v", n.State, err)
			}
			if s.Leader == "" || (name != "" && s.Leader != name) {
				return false, fmt.Sprintf("%s follows %q, others %q", n.State, s.Leader, name)
			}
			name = s.Leader
		}
		for _, i := range among {
			if f.Net.Nodes[i].State == name && i != not {
				leader = i
				return true, ""
			}
		}
		return false, fmt.Sprintf("leader %q is not among the nodes waited on", name)
	})
	return leader, err
}
