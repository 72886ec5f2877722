package testnet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	stdnet "net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/hashicorp/raft"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/crypto/seal"
	"github.com/entente/entente/federation/gossip"
	"github.com/entente/entente/federation/state"
	"github.com/entente/entente/federation/transport"
	"github.com/entente/entente/node"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/client"
	"github.com/entente/entente/policy"
	"github.com/entente/entente/testnet"
)

// upFed starts a federation of n real node processes for one test.
func upFed(t *testing.T, n int, extra ...string) *testnet.Net {
	t.Helper()
	pol := testnet.DemoPolicy()
	pol.Voting.Consultation = policy.Duration(3 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	net, err := testnet.Up(ctx, testnet.Options{Dir: t.TempDir(), Nodes: n, FreePorts: true, Policy: &pol, Heartbeat: 200 * time.Millisecond, Extra: extra})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := net.Down(20 * time.Second); err != nil {
			t.Errorf("stopping the federation: %v", err)
		}
		if t.Failed() {
			for _, n := range net.Nodes {
				t.Logf("---- %s ----\n%s", n.State, lastLines(n.Logs(), 40))
			}
		}
	})
	return net
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last: %s)", d, what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func call(t *testing.T, net *testnet.Net, i int, role, method, path string, body, out any) error {
	t.Helper()
	c, err := net.Client(i, role)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdle()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return c.JSON(ctx, method, path, body, out)
}

func entryOn(t *testing.T, net *testnet.Net, i int, id string) (api.WatchlistEntry, error) {
	var out struct {
		Entry api.WatchlistEntry `json:"entry"`
	}
	err := call(t, net, i, "analyst", "GET", "/v1/watchlist/"+id, nil, &out)
	return out.Entry, err
}

// converged waits until every running node has applied the same index with the same
// state hash.
func converged(t *testing.T, net *testnet.Net) {
	t.Helper()
	eventually(t, 30*time.Second, "every node to converge on one state", func() (bool, string) {
		var first testnet.Status
		for i, n := range net.Nodes {
			if !n.Running() {
				continue
			}
			s, err := net.Status(context.Background(), i)
			if err != nil {
				return false, err.Error()
			}
			if first.State == "" {
				first = s
				continue
			}
			if s.Applied != first.Applied || s.StateHash != first.StateHash {
				return false, fmt.Sprintf("%s at %d %s, %s at %d %s", first.State, first.Applied, first.StateHash[:12], s.State, s.Applied, s.StateHash[:12])
			}
		}
		return true, ""
	})
}

func nomination(id, name, rationaleMarking string) api.NominationRequest {
	party, _ := json.Marshal(map[string]any{"type": "organisation", "name": name, "countries": []string{"IRN"}})
	return api.NominationRequest{ID: id, Kind: "denied-party", Party: party, Basis: api.Basis{Regime: "national", ControlCodes: []string{"ml4", "3A001"}},
		Rationale: "canary " + name + " diverted gyroscopes", Markings: map[string]string{"rationale": rationaleMarking}}
}

func TestFederationListsOnEveryNode(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) { listsOnEveryNode(t, n) })
	}
}

func listsOnEveryNode(t *testing.T, size int) {
	net := upFed(t, size)
	// Nominate from FRA or DEU, whichever follows, so that the field released to FRA and
	// DEU has an outsider (GBR) and a reader that did not originate it.
	leader, err := net.WaitLeader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f := 0
	if leader == 0 {
		f = 1
	}
	id := "N-" + net.Nodes[f].State + "-1"
	// The rationale is released to FRA and DEU only; GBR is a member that must not read it.
	var res api.FedResult
	if err := call(t, net, f, "officer", "POST", "/v1/watchlist/nominations", nomination(id, "Qeshm Gyro Trading", "REL TO DEU,FRA"), &res); err != nil {
		t.Fatal(err)
	}
	if res.Index == 0 || res.Subject != "watchlist/"+id {
		t.Fatalf("the answer does not say where the nomination committed: %+v", res)
	}
	origin := net.Nodes[f].State
	for i := range net.Nodes {
		if i == f {
			continue
		}
		if err := call(t, net, i, "officer", "POST", "/v1/watchlist/"+id+"/votes", api.VoteRequest{Position: "endorse"}, nil); err != nil {
			t.Fatalf("%s endorses: %v", net.Nodes[i].State, err)
		}
	}
	for i := range net.Nodes {
		eventually(t, 30*time.Second, id+" listed on "+net.Nodes[i].State, func() (bool, string) {
			e, err := entryOn(t, net, i, id)
			if err != nil {
				return false, err.Error()
			}
			return e.Status == "listed", e.Status
		})
	}
	converged(t, net)

	// Every node reports its raft role and, once converged, no index lag.
	var ms struct {
		Members []struct {
			Code     string `json:"code"`
			Alive    bool   `json:"alive"`
			Leader   bool   `json:"leader"`
			RaftRole string `json:"raft_role"`
			Lag      uint64 `json:"index_lag"`
		} `json:"members"`
	}
	if err := call(t, net, f, "analyst", "GET", "/v1/federation/members", nil, &ms); err != nil {
		t.Fatal(err)
	}
	leaders := 0
	for _, m := range ms.Members {
		if !m.Alive || m.RaftRole == "" || m.Lag != 0 {
			t.Fatalf("members view: %+v", ms.Members)
		}
		if m.Leader {
			leaders++
			if m.RaftRole != "Leader" {
				t.Fatalf("%s is named leader but reports %s", m.Code, m.RaftRole)
			}
		}
	}
	if len(ms.Members) != size || leaders != 1 {
		t.Fatalf("members view: %d members, %d leaders: %+v", len(ms.Members), leaders, ms.Members)
	}

	// Need-to-know: FRA and DEU read the rationale, GBR sees it sealed with its marking.
	for i, n := range net.Nodes {
		e, err := entryOn(t, net, i, id)
		if err != nil {
			t.Fatal(err)
		}
		r := e.Fields["rationale"]
		if r.Marking != "REL TO DEU,FRA" {
			t.Fatalf("%s: rationale marking %q", n.State, r.Marking)
		}
		cleared := n.State == "FRA" || n.State == "DEU" || n.State == origin
		if cleared != !r.Sealed || (cleared && !bytes.Contains(r.Value, []byte("canary"))) {
			t.Fatalf("%s: rationale sealed=%v value=%s, cleared=%v", n.State, r.Sealed, r.Value, cleared)
		}
		if p := e.Fields["party"]; p.Sealed || !bytes.Contains(p.Value, []byte("Qeshm")) {
			t.Fatalf("%s: the party, REL TO FEDERATION, is not readable: %+v", n.State, p)
		}
	}

	// Sovereignty: a NATIONAL field is refused before anything is proposed.
	before, _ := net.Status(context.Background(), f)
	bad := nomination(id+"-X", "Secret Co", "REL TO FEDERATION")
	bad.Markings["party"] = "NATIONAL"
	err = call(t, net, f, "officer", "POST", "/v1/watchlist/nominations", bad, nil)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Field != "markings.party" {
		t.Fatalf("a NATIONAL field was not refused by name: %v", err)
	}
	if after, _ := net.Status(context.Background(), f); after.Applied != before.Applied {
		t.Fatalf("a refused nomination reached the log: applied %d -> %d", before.Applied, after.Applied)
	}

	// Rule breaks are rejected the same way on every replica.
	for _, tc := range []struct {
		path string
		body any
		i    int
	}{
		{"/v1/watchlist/" + id + "/votes", api.VoteRequest{Position: "endorse"}, f},   // the window has closed
		{"/v1/watchlist/" + id + "-none/appeals", api.AppealRequest{Grounds: "x"}, f}, // no such entry
		{"/v1/watchlist/" + id + "/renewals", nil, (f + 1) % len(net.Nodes)},          // only the originator renews
		{"/v1/watchlist/" + id + "/votes", api.VoteRequest{Position: "delist"}, 0},    // not under appeal
	} {
		err := call(t, net, tc.i, "officer", "POST", tc.path, tc.body, nil)
		if !errors.As(err, &ae) || ae.Status != 409 || ae.Code != "rejected" {
			t.Fatalf("%s: want a rejection every replica shares, got %v", tc.path, err)
		}
	}
	converged(t, net)

	if size == 3 {
		reader := net.Nodes[1-f] // the other of FRA and DEU
		outsiderCannotOpen(t, net, id, reader)
	}
}

// outsiderCannotOpen stops GBR and reads its raw federation files: the rationale released
// to FRA and DEU is in none of them in the clear, and GBR's own real age identity cannot
// open it; reader's (FRA or DEU, not the originator) can.
func outsiderCannotOpen(t *testing.T, net *testnet.Net, id string, reader *testnet.Node) {
	gbr := net.Nodes[2]
	if err := gbr.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	err := filepath.Walk(filepath.Join(gbr.DataDir, "federation"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte("diverted gyroscopes")) {
			return fmt.Errorf("%s holds the REL TO DEU,FRA rationale in the clear", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	g, err := node.LoadGenesis(net.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(filepath.Join(gbr.DataDir, "federation", "state.db"), g)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e, ok, err := st.Entry(id)
	if err != nil || !ok {
		t.Fatalf("GBR's state has no %s: %v", id, err)
	}
	sealed := e.Fields["rationale"].Sealed
	w, ok := st.Key(sealed.Key)
	if !ok {
		t.Fatal("the data key did not travel with the nomination")
	}
	open := func(n *testnet.Node) error {
		id, err := identity.Load(n.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		ring, err := seal.NewKeyring(n.State, id.Age, noDirectory{}, seal.NewMemStore())
		if err != nil {
			t.Fatal(err)
		}
		epochs, err := identity.OpenEpochKeys(n.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		ring.UseEpochs(noDirectory{}, epochs)
		// Every identity the node holds, tried directly on the wrapped key too.
		if _, err := age.Decrypt(bytes.NewReader(w.Wrapped), append(epochs.Identities(), id.Age)...); err == nil && n == gbr {
			t.Fatal("one of GBR's identities unwraps a key wrapped for DEU and FRA")
		}
		if err := ring.Import(w); err != nil {
			t.Fatal(err)
		}
		_, err = ring.Open(*sealed, "watchlist/"+e.ID, "fields.rationale")
		return err
	}
	if err := open(gbr); !errors.Is(err, seal.ErrNotReleased) {
		t.Fatalf("GBR opened a field released to DEU and FRA: %v", err)
	}
	if err := open(reader); err != nil {
		t.Fatalf("%s cannot open a field released to it: %v", reader.State, err)
	}
}

// TestFederationSurvivesLeaderKill writes through every node, kills the leader with
// SIGKILL in the middle, and checks that no acknowledged write is lost, a new leader
// carries on, the killed node catches up (through a snapshot: the log is compacted
// meanwhile) and the chair can be handed on afterwards.
func TestFederationSurvivesLeaderKill(t *testing.T) {
	net := upFed(t, 3, "--raft-snapshot-threshold", "32", "--raft-trailing-logs", "8")
	leader, err := net.WaitLeader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acked := map[string]bool{}
	killAt := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range net.Nodes {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				id := fmt.Sprintf("K-%s-%d", net.Nodes[w].State, i)
				var ok bool
				for attempt := 0; attempt < 30 && !ok; attempt++ {
					err := call(t, net, w, "officer", "POST", "/v1/watchlist/nominations", nomination(id, "Party "+id, "REL TO FEDERATION"), nil)
					var ae *client.APIError
					switch {
					case err == nil:
						ok = true
					case errors.As(err, &ae) && ae.Code == "rejected" && strings.Contains(ae.Message, "already exists"):
						ok = true // committed before an earlier attempt's answer was lost
					case w == leader && !net.Nodes[w].Running():
						return // this node was killed
					default:
						time.Sleep(200 * time.Millisecond) // an election is under way
					}
				}
				if !ok {
					return
				}
				mu.Lock()
				acked[id] = true
				if len(acked) == 30 {
					once.Do(func() { close(killAt) })
				}
				mu.Unlock()
			}
		}(w)
	}
	select {
	case <-killAt:
	case <-time.After(60 * time.Second):
		t.Fatal("writers did not reach 30 acknowledged nominations")
	}
	if err := net.Nodes[leader].Kill(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	newLeader, err := net.WaitLeader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if newLeader == leader {
		t.Fatal("the killed node is still named leader")
	}
	// Writes go on without the old leader.
	if err := call(t, net, newLeader, "officer", "POST", "/v1/watchlist/nominations", nomination("AFTER-KILL", "After Kill Ltd", "REL TO FEDERATION"), nil); err != nil {
		t.Fatalf("no write after the leader was killed: %v", err)
	}
	acked["AFTER-KILL"] = true

	if err := net.Nodes[leader].Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	converged(t, net)
	for i := range net.Nodes {
		var out struct {
			Entries []api.WatchlistEntry `json:"entries"`
		}
		if err := call(t, net, i, "analyst", "GET", "/v1/watchlist?consistency=linearizable", nil, &out); err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, e := range out.Entries {
			have[e.ID] = true
		}
		for id := range acked {
			if !have[id] {
				t.Fatalf("%s lost the acknowledged nomination %s", net.Nodes[i].State, id)
			}
		}
	}
	t.Logf("%d acknowledged nominations present on every node after the leader was killed", len(acked))
	snaps, _ := filepath.Glob(filepath.Join(net.Nodes[leader].DataDir, "federation", "snapshots", "*"))
	if len(snaps) == 0 {
		t.Fatal("the restarted node holds no snapshot: the log was not compacted, so catch-up by snapshot was not exercised")
	}

	// The chair passes to the next voter on request.
	cur, _ := net.WaitLeader(context.Background())
	var rot struct {
		Chair string `json:"chair"`
	}
	if err := call(t, net, cur, "operator", "POST", "/v1/federation/rotate-chair", nil, &rot); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the chair to pass to "+rot.Chair, func() (bool, string) {
		s, err := net.Status(context.Background(), cur)
		return err == nil && s.Leader == rot.Chair && rot.Chair != net.Nodes[cur].State, s.Leader
	})
}

// TestStrangersAreRefused: a node whose certificate is not on the roster is refused on
// the raft port, and a gossip member with another key cannot join.
func TestStrangersAreRefused(t *testing.T) {
	net := upFed(t, 3)
	stranger, err := identity.Create(filepath.Join(t.TempDir(), "x"), "ESP", "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	anyone := authorizeAll{}
	ln, err := net2Listen()
	if err != nil {
		t.Fatal(err)
	}
	sl := transport.NewStreamLayer(ln, stranger.TLS, anyone, slog.New(slog.DiscardHandler))
	defer sl.Close()
	c, err := sl.Dial(raft.ServerAddress(net.Nodes[0].Card.RaftAddr), 3*time.Second)
	if err == nil {
		c.Close()
		t.Fatal("a certificate off the roster was accepted on the raft port")
	}
	if !errors.Is(err, transport.ErrRefusedByPeer) {
		t.Fatalf("want the node's refusal, got %v", err)
	}

	wrongKey := bytes.Repeat([]byte{7}, gossip.KeySize)
	g, err := gossip.Start(gossip.Config{BindAddr: "127.0.0.1", BindPort: 0, Key: wrongKey,
		Meta: gossip.Meta{State: "ESP", APIURL: "https://127.0.0.1:9", RaftAddr: "127.0.0.1:9", Version: "1"}, Signer: stranger.Signer,
		Roster: emptyRoster{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown()
	if n, err := g.Join([]string{net.Nodes[0].Card.GossipAddr}); err == nil && n > 0 {
		t.Fatal("a gossip member with the wrong key joined")
	}
	var ms struct {
		Members []struct {
			Code string `json:"code"`
		} `json:"members"`
	}
	if err := call(t, net, 0, "analyst", "GET", "/v1/federation/members", nil, &ms); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms.Members {
		if m.Code == "ESP" {
			t.Fatal("the stranger appears among the members")
		}
	}
}

type authorizeAll struct{}

func (authorizeAll) StateForPin(string) (string, bool) { return "ANY", true }

type emptyRoster struct{}

func (emptyRoster) SigningKeys(string) (*jws.KeySet, bool) { return nil, false }

func net2Listen() (stdnet.Listener, error) { return stdnet.Listen("tcp", "127.0.0.1:0") }

// TestAdmitAndRemoveMember starts a node for a state the genesis does not name, has the
// voters admit it, and checks that it joins raft, catches up to the same state, and reads
// what is released to the federation from then on (but not what was sealed before it
// joined); then the voters remove it, and it stops receiving the federation's writes.
func TestAdmitAndRemoveMember(t *testing.T) {
	net := upFed(t, 3)
	ctx := context.Background()
	before := "BEFORE-ADMISSION"
	if err := call(t, net, 0, "officer", "POST", "/v1/watchlist/nominations", nomination(before, "Old Party SA", "REL TO FEDERATION"), nil); err != nil {
		t.Fatal(err)
	}
	ita, cardFile, err := net.AddNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	card, err := os.ReadFile(cardFile)
	if err != nil {
		t.Fatal(err)
	}
	var res api.FedResult
	if err := call(t, net, 0, "steering", "POST", "/v1/federation/admissions", api.AdmissionRequest{ID: "ADMIT-ITA", Card: card, Role: "member"}, &res); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2} {
		if err := call(t, net, i, "steering", "POST", "/v1/federation/proposals/ADMIT-ITA/votes", api.VoteRequest{Position: "endorse"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 40*time.Second, "ITA to be admitted and catch up", func() (bool, string) {
		s, err := net.Status(ctx, ita)
		if err != nil {
			return false, err.Error()
		}
		l, err := net.Status(ctx, 0)
		if err != nil {
			return false, err.Error()
		}
		return s.Applied >= l.Applied && s.StateHash == l.StateHash && s.Role == "Follower", fmt.Sprintf("ITA %s at %d, FRA at %d", s.Role, s.Applied, l.Applied)
	})

	// Values can be sealed to ITA once it has published its key epochs.
	if err := net.WaitKeyEpochs(ctx); err != nil {
		t.Fatal(err)
	}
	after := "AFTER-ADMISSION"
	if err := call(t, net, 1, "officer", "POST", "/v1/watchlist/nominations", nomination(after, "New Party SA", "REL TO FEDERATION"), nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "ITA to read what was released to the federation after it joined", func() (bool, string) {
		e, err := entryOn(t, net, ita, after)
		if err != nil {
			return false, err.Error()
		}
		return !e.Fields["rationale"].Sealed && bytes.Contains(e.Fields["rationale"].Value, []byte("New Party")), fmt.Sprintf("%+v", e.Fields["rationale"])
	})
	if e, err := entryOn(t, net, ita, before); err != nil || !e.Fields["rationale"].Sealed {
		t.Fatalf("ITA opened a field sealed before it was admitted: %+v %v", e.Fields["rationale"], err)
	}

	// Removal: proposed by GBR, endorsed by the other voters.
	if err := call(t, net, 2, "steering", "POST", "/v1/federation/removals", api.RemovalRequest{ID: "REMOVE-ITA", State: "ITA"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1} {
		if err := call(t, net, i, "steering", "POST", "/v1/federation/proposals/REMOVE-ITA/votes", api.VoteRequest{Position: "endorse"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var removedAt uint64
	eventually(t, 40*time.Second, "ITA to leave the roster", func() (bool, string) {
		var ms struct {
			Members []struct {
				Code string `json:"code"`
			} `json:"members"`
		}
		if err := call(t, net, 0, "analyst", "GET", "/v1/federation/members", nil, &ms); err != nil {
			return false, err.Error()
		}
		for _, m := range ms.Members {
			if m.Code == "ITA" {
				return false, "still listed"
			}
		}
		s, _ := net.Status(ctx, 0)
		removedAt = s.Applied
		return true, ""
	})
	if err := call(t, net, 0, "officer", "POST", "/v1/watchlist/nominations", nomination("AFTER-REMOVAL", "Later Party SA", "REL TO FEDERATION"), nil); err != nil {
		t.Fatal(err)
	}
	converged(t, &testnet.Net{Nodes: net.Nodes[:3], Tokens: net.Tokens[:3]})
	s, err := net.Status(ctx, ita)
	if err == nil && s.Applied > removedAt+2 {
		t.Fatalf("ITA still receives the federation's writes after its removal: applied %d, removed at %d", s.Applied, removedAt)
	}
	if _, err := entryOn(t, net, ita, "AFTER-REMOVAL"); err == nil {
		t.Fatal("ITA received a nomination made after its removal")
	}
}
