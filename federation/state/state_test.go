package state

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"go.etcd.io/bbolt"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/federation/command"
	"github.com/entente/entente/policy"
)

// fed is a test federation: FRA, DEU and GBR vote, ITA is a member, CAN observes.
type fed struct {
	t       *testing.T
	genesis *Genesis
	signers map[string]*jws.Signer
	log     [][]byte // every entry proposed, in order, for replaying on other replicas
	clock   time.Time
}

func newFed(t *testing.T) *fed {
	t.Helper()
	f := &fed{t: t, signers: map[string]*jws.Signer{}, clock: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
	pol := policy.DefaultPolicy()
	pol.Voting.Consultation = policy.Duration(time.Hour)
	pol.Voting.Appeal = policy.Duration(time.Hour)
	pol.Voting.Review = policy.Duration(24 * time.Hour)
	pol.Voting.Grace = policy.Duration(time.Hour)
	pol.Retention["denied-party"] = policy.Duration(72 * time.Hour)
	pol.Retention["indicator"] = policy.Duration(72 * time.Hour)
	g := &Genesis{Federation: "test", Policy: pol}
	for code, role := range map[string]policy.MemberRole{"FRA": policy.RoleVoter, "DEU": policy.RoleVoter, "GBR": policy.RoleVoter, "ITA": policy.RoleMember, "CAN": policy.RoleObserver} {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		s := jws.NewSigner(priv)
		ks := jws.NewKeySet()
		ks.Add(s.Public())
		kb, _ := ks.MarshalJSON()
		id, _ := age.GenerateX25519Identity()
		f.signers[code] = s
		g.Members = append(g.Members, Member{Code: code, Role: role, SigningKeys: kb, AgeRecipient: id.Recipient().String(), TLSPin: "sha256:" + code, RaftAddr: "127.0.0.1:7001", GossipAddr: "127.0.0.1:7002"})
	}
	f.genesis = g
	return f
}

func (f *fed) open(name string) *State {
	f.t.Helper()
	s, err := Open(filepath.Join(f.t.TempDir(), name), f.genesis)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { s.Close() })
	return s
}

// entry signs p as origin (or with signer's key when given) and frames it with the clock.
func (f *fed) entry(origin string, p command.Payload, signer string) []byte {
	f.t.Helper()
	c, err := command.New(origin, p)
	if err != nil {
		f.t.Fatal(err)
	}
	if signer == "" {
		signer = origin
	}
	if err := c.Sign(f.signers[signer]); err != nil {
		f.t.Fatal(err)
	}
	raw, _ := c.Marshal()
	data := command.MarshalEntry(command.Entry{Stamp: f.clock.UnixNano(), Command: raw})
	f.log = append(f.log, data)
	return data
}

// do applies the next entry on s and returns its result.
func (f *fed) do(s *State, origin string, p command.Payload) *Result {
	f.t.Helper()
	data := f.entry(origin, p, "")
	return s.Apply(uint64(len(f.log)), data)
}

func pub(v string) command.Field { return command.Field{Marking: "PUBLIC", Plain: json.RawMessage(v)} }

func nomination(id string) *command.Nominate {
	return &command.Nominate{ID: id, Kind: "denied-party", Fields: map[string]command.Field{
		"party": pub(`{"type":"organisation","name":"Zorbatek Trading FZE"}`), "basis": pub(`{"regime":"national"}`)}}
}

func objection(entry string, blocking bool) *command.Vote {
	r := pub(`"insufficient basis"`)
	return &command.Vote{Entry: entry, Position: "object", Blocking: blocking, Reason: &r}
}

func wantOK(t *testing.T, r *Result, alert string) {
	t.Helper()
	if r.Rejected != "" {
		t.Fatalf("index %d (%s by %s) rejected: %s", r.Index, r.Type, r.Origin, r.Rejected)
	}
	if alert != "" && (len(r.Alerts) != 1 || r.Alerts[0].Kind != alert) {
		t.Fatalf("index %d: alerts %+v, want one %s", r.Index, r.Alerts, alert)
	}
}

func wantRejected(t *testing.T, r *Result, reason string) {
	t.Helper()
	if !strings.Contains(r.Rejected, reason) {
		t.Fatalf("index %d (%s by %s): rejected %q, want it to say %q", r.Index, r.Type, r.Origin, r.Rejected, reason)
	}
	if len(r.Alerts) != 0 {
		t.Fatalf("a rejected command raised alerts: %+v", r.Alerts)
	}
}

func status(t *testing.T, s *State, id, want string) {
	t.Helper()
	e, ok, err := s.Entry(id)
	if err != nil || !ok {
		t.Fatalf("entry %s: %v %v", id, ok, err)
	}
	if e.Status != want {
		t.Fatalf("entry %s is %s, want %s", id, e.Status, want)
	}
}

// TestLifecycle walks one entry through every state: nominated, listed, review due,
// renewed, appealed, delisted, expired, purged; each step one command and one alert.
func TestLifecycle(t *testing.T) {
	f := newFed(t)
	s := f.open("fra.db")
	wantOK(t, f.do(s, "FRA", nomination("FRA-N-1")), "nominated")
	wantOK(t, f.do(s, "DEU", &command.Vote{Entry: "FRA-N-1", Position: "endorse"}), "endorsement")
	wantOK(t, f.do(s, "ITA", objection("FRA-N-1", false)), "objection")
	wantRejected(t, f.do(s, "GBR", &command.Transition{Subject: "watchlist/FRA-N-1", To: "closed"}), "not due until")

	f.clock = f.clock.Add(time.Hour)
	wantOK(t, f.do(s, "GBR", &command.Transition{Subject: "watchlist/FRA-N-1", To: "closed"}), StatusListed)
	status(t, s, "FRA-N-1", StatusListed)

	f.clock = f.clock.Add(24 * time.Hour)
	wantOK(t, f.do(s, "DEU", &command.Transition{Subject: "watchlist/FRA-N-1", To: "review-due"}), StatusReviewDue)
	wantRejected(t, f.do(s, "DEU", &command.Renew{Entry: "FRA-N-1"}), "only FRA")
	wantOK(t, f.do(s, "FRA", &command.Renew{Entry: "FRA-N-1"}), "renewed")

	wantOK(t, f.do(s, "ITA", &command.Appeal{Entry: "FRA-N-1", Grounds: pub(`"mistaken identity"`)}), "appeal")
	wantRejected(t, f.do(s, "ITA", &command.AppealVote{Entry: "FRA-N-1", Decision: "delist"}), "not a voter")
	wantOK(t, f.do(s, "DEU", &command.AppealVote{Entry: "FRA-N-1", Decision: "delist"}), "appeal-vote")
	wantOK(t, f.do(s, "GBR", &command.AppealVote{Entry: "FRA-N-1", Decision: "delist"}), "appeal-vote")
	wantOK(t, f.do(s, "FRA", &command.AppealVote{Entry: "FRA-N-1", Decision: "uphold"}), "appeal-vote")
	f.clock = f.clock.Add(time.Hour)
	wantOK(t, f.do(s, "GBR", &command.Transition{Subject: "watchlist/FRA-N-1", To: "appeal-closed"}), StatusDelisted)
	wantOK(t, f.do(s, "GBR", &command.Transition{Subject: "watchlist/FRA-N-1", To: "expired"}), StatusExpired)
	wantRejected(t, f.do(s, "GBR", &command.Transition{Subject: "watchlist/FRA-N-1", To: "purged"}), "not due until")
	f.clock = f.clock.Add(72 * time.Hour)
	wantOK(t, f.do(s, "GBR", &command.Transition{Subject: "watchlist/FRA-N-1", To: "purged"}), "purged")
	if _, ok, _ := s.Entry("FRA-N-1"); ok {
		t.Fatal("a purged entry is still in the state")
	}
	checkDeadlineIndex(t, s)
	// Nothing about the purged entry survives in the replicated state's signed commands.
	for i := uint64(1); i <= uint64(len(f.log)); i++ {
		if c, ok, _ := s.SignedCommand(i); ok && bytes.Contains(c.Payload, []byte("FRA-N-1")) {
			t.Fatalf("the signed command at %d about the purged entry is still stored", i)
		}
	}
}

// TestListingRules: quorum and blocking objections decide between listed and disputed.
func TestListingRules(t *testing.T) {
	f := newFed(t)
	s := f.open("fra.db")
	// FRA nominates (its own endorsement) but no other voter endorses: 1 of 3 is short of
	// a majority.
	wantOK(t, f.do(s, "FRA", nomination("A")), "nominated")
	// DEU endorses, GBR blocks.
	wantOK(t, f.do(s, "FRA", nomination("B")), "nominated")
	wantOK(t, f.do(s, "DEU", &command.Vote{Entry: "B", Position: "endorse"}), "")
	wantOK(t, f.do(s, "GBR", objection("B", true)), "objection")
	// DEU endorses; ITA (a member, not a voter) blocks: only voters' objections block.
	wantOK(t, f.do(s, "FRA", nomination("C")), "nominated")
	wantOK(t, f.do(s, "DEU", &command.Vote{Entry: "C", Position: "endorse"}), "")
	wantOK(t, f.do(s, "ITA", objection("C", true)), "objection")
	f.clock = f.clock.Add(time.Hour)
	for id, want := range map[string]string{"A": StatusDisputed, "B": StatusDisputed, "C": StatusListed} {
		wantOK(t, f.do(s, "DEU", &command.Transition{Subject: "watchlist/" + id, To: "closed"}), want)
		status(t, s, id, want)
	}
}

// TestRuleBreaksAreRejected: each rule break is rejected, names the rule, and changes
// nothing but the record of the rejection.
func TestRuleBreaksAreRejected(t *testing.T) {
	f := newFed(t)
	s := f.open("fra.db")
	wantOK(t, f.do(s, "FRA", nomination("N")), "")
	wantOK(t, f.do(s, "FRA", nomination("L")), "")
	wantOK(t, f.do(s, "DEU", &command.Vote{Entry: "L", Position: "endorse"}), "")
	before, _ := s.Hash()

	cases := []struct {
		name   string
		origin string
		p      command.Payload
		signer string
		reason string
	}{
		{"vote by a non-member", "USA", &command.Vote{Entry: "N", Position: "endorse"}, "FRA", "not a member"},
		{"vote signed by another state", "DEU", &command.Vote{Entry: "N", Position: "endorse"}, "GBR", "signature"},
		{"vote by an observer", "CAN", &command.Vote{Entry: "N", Position: "endorse"}, "", "observer"},
		{"vote on own nomination", "FRA", &command.Vote{Entry: "N", Position: "endorse"}, "", "own nomination"},
		{"vote on an unknown entry", "DEU", &command.Vote{Entry: "X", Position: "endorse"}, "", "no watchlist entry"},
		{"second vote", "DEU", &command.Vote{Entry: "L", Position: "endorse"}, "", "already voted"},
		{"appeal on an unlisted entry", "DEU", &command.Appeal{Entry: "N", Grounds: pub(`"x"`)}, "", "only a listed entry"},
		{"duplicate nomination", "DEU", nomination("N"), "", "already exists"},
		{"early close", "DEU", &command.Transition{Subject: "watchlist/N", To: "closed"}, "", "not due until"},
		{"impossible transition", "DEU", &command.Transition{Subject: "watchlist/N", To: "review-due"}, "", "cannot move"},
		{"expired indicator", "FRA", &command.Indicator{ID: "I", Kind: "route", Subject: pub(`"IRN"`), Severity: 3, Evidence: pub(`"x"`), ValidUntil: f.clock.Add(-time.Hour).Unix()}, "", "has passed"},
	}
	for _, tc := range cases {
		signer := tc.signer
		if signer == "" {
			signer = tc.origin
		}
		c, err := command.New(tc.origin, tc.p)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Sign(f.signers[signer])
		raw, _ := c.Marshal()
		f.log = append(f.log, command.MarshalEntry(command.Entry{Stamp: f.clock.UnixNano(), Command: raw}))
		r := s.Apply(uint64(len(f.log)), f.log[len(f.log)-1])
		t.Run(tc.name, func(t *testing.T) { wantRejected(t, r, tc.reason) })
		if got, ok := s.Rejection(r.Index); !ok || got != r.Rejected {
			t.Errorf("%s: rejection not recorded: %q", tc.name, got)
		}
	}
	// The vote after the window closed.
	f.clock = f.clock.Add(2 * time.Hour)
	wantRejected(t, f.do(s, "GBR", &command.Vote{Entry: "N", Position: "endorse"}), "window")

	// Only the rejection records and the applied index moved: entries are as they were.
	for _, id := range []string{"N", "L"} {
		e, _, _ := s.Entry(id)
		if len(e.Votes) > 1 || (id == "N" && len(e.Votes) != 0) {
			t.Fatalf("a rejected vote changed entry %s: %+v", id, e.Votes)
		}
	}
	if after, _ := s.Hash(); after == before {
		t.Fatal("the hash did not change at all: rejections must be recorded")
	}
}

// TestReplicasAgree replays the same log on a second replica, on a restarted replica and
// through a snapshot, and compares state hashes.
func TestReplicasAgree(t *testing.T) {
	f := newFed(t)
	a := f.open("a.db")
	wantOK(t, f.do(a, "FRA", nomination("N")), "")
	wantOK(t, f.do(a, "DEU", &command.Vote{Entry: "N", Position: "endorse"}), "")
	wantRejected(t, f.do(a, "FRA", &command.Vote{Entry: "N", Position: "endorse"}), "own nomination")
	wantOK(t, f.do(a, "GBR", &command.Indicator{ID: "I", Kind: "diversion", Subject: pub(`"IRN"`), Severity: 4, Evidence: pub(`"x"`), ValidUntil: f.clock.Add(48 * time.Hour).Unix()}), "indicator")
	wantOK(t, f.do(a, "DEU", &command.Corroborate{Indicator: "I"}), "corroborated")
	f.clock = f.clock.Add(time.Hour)
	wantOK(t, f.do(a, "ITA", &command.Transition{Subject: "watchlist/N", To: "closed"}), StatusListed)

	// A new nomination whose window then closes; a later leader whose clock is behind
	// stamps a vote inside the old window. Time in the state must not run backwards, so
	// the vote is late.
	wantOK(t, f.do(a, "FRA", nomination("M")), "nominated")
	f.clock = f.clock.Add(2 * time.Hour)
	wantRejected(t, f.do(a, "DEU", &command.Transition{Subject: "watchlist/none", To: "closed"}), "no watchlist entry")
	f.clock = f.clock.Add(-90 * time.Minute)
	wantRejected(t, f.do(a, "DEU", &command.Vote{Entry: "M", Position: "endorse"}), "window for M closed")

	b := f.open("b.db")
	for i, data := range f.log {
		b.Apply(uint64(i+1), data)
	}
	ha, _ := a.Hash()
	hb, _ := b.Hash()
	if ha != hb {
		t.Fatalf("replicas differ after the same log:\n%s\n%s", ha, hb)
	}
	checkDeadlineIndex(t, a)

	// The whole log as one batch, rejections included, gives the same state.
	batched := f.open("batched.db")
	var all []Committed
	for i, data := range f.log {
		all = append(all, Committed{Index: uint64(i + 1), Data: data})
	}
	rs := batched.ApplyBatch(all)
	if rs[2].Rejected == "" {
		t.Fatal("the rejection inside the batch was lost")
	}
	if h, _ := batched.Hash(); h != ha {
		t.Fatal("applying the log as one batch gives another state than entry by entry")
	}

	// Replaying applied entries after a restart changes nothing.
	dir := t.TempDir()
	c, err := Open(filepath.Join(dir, "c.db"), f.genesis)
	if err != nil {
		t.Fatal(err)
	}
	for i, data := range f.log[:3] {
		c.Apply(uint64(i+1), data)
	}
	c.Close()
	c, err = Open(filepath.Join(dir, "c.db"), f.genesis)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, data := range f.log {
		r := c.Apply(uint64(i+1), data)
		if i < 3 && !r.Skipped {
			t.Fatalf("entry %d applied twice after a restart", i+1)
		}
	}
	if hc, _ := c.Hash(); hc != ha {
		t.Fatal("a restarted replica differs")
	}

	// Snapshot a, restore into a fresh replica.
	var snap bytes.Buffer
	if err := a.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	d := f.open("d.db")
	if err := d.Restore(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	if hd, _ := d.Hash(); hd != ha {
		t.Fatal("a restored replica differs")
	}
	if d.Applied() != uint64(len(f.log)) {
		t.Fatalf("restored applied index %d, want %d", d.Applied(), len(f.log))
	}

	// A node starting up is handed its latest snapshot, which its state file has already
	// passed: the state stays where it is, never going back to the snapshot's index.
	old := bytes.Clone(snap.Bytes())
	wantOK(t, f.do(a, "GBR", nomination("Z")), "nominated")
	ahead, _ := a.Hash()
	if err := a.Restore(bytes.NewReader(old)); err != nil {
		t.Fatal(err)
	}
	if h, _ := a.Hash(); h != ahead || a.Applied() != uint64(len(f.log)) {
		t.Fatalf("restoring an older snapshot took the state back to %d", a.Applied())
	}
	if _, ok, _ := a.Entry("Z"); !ok {
		t.Fatal("restoring an older snapshot lost a later entry")
	}
}

func TestUndecodableEntryHalts(t *testing.T) {
	f := newFed(t)
	s := f.open("a.db")
	defer func() {
		if recover() == nil {
			t.Fatal("an undecodable entry did not halt the node")
		}
	}()
	s.Apply(1, []byte("garbage that is not an entry"))
}

func TestGenesisIsChecked(t *testing.T) {
	f := newFed(t)
	path := filepath.Join(t.TempDir(), "a.db")
	s, err := Open(path, f.genesis)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	other := newFed(t)
	if _, err := Open(path, other.genesis); err == nil || !strings.Contains(err.Error(), "another genesis") {
		t.Fatalf("opened with another genesis: %v", err)
	}
	bad := *f.genesis
	bad.Members = append([]Member(nil), f.genesis.Members...)
	bad.Members[0].Code = "XXA"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "members[0].code") {
		t.Fatalf("bad genesis accepted: %v", err)
	}
}

func TestDueListsWhatHasFallenDue(t *testing.T) {
	f := newFed(t)
	s := f.open("a.db")
	wantOK(t, f.do(s, "FRA", nomination("N")), "")
	due, _ := s.Due(f.clock)
	if len(due) != 0 {
		t.Fatalf("due before the window closed: %+v", due)
	}
	due, _ = s.Due(f.clock.Add(time.Hour))
	if len(due) != 1 || due[0].To != "closed" || due[0].Subject != "watchlist/N" {
		t.Fatalf("due after the window: %+v", due)
	}
}

// checkDeadlineIndex fails unless the deadline index holds exactly one key per subject
// with a deadline, the one its status implies.
func checkDeadlineIndex(t *testing.T, s *State) {
	t.Helper()
	want := map[string]string{}
	es, _ := s.Entries("")
	for _, e := range es {
		if at, to := entryDeadline(e, s.Policy()); at != 0 {
			want[string(deadlineKey(at, "watchlist/"+e.ID))] = to
		}
	}
	ins, _ := s.Indicators()
	for _, in := range ins {
		if at, to := indicatorDeadline(in, s.Policy()); at != 0 {
			want[string(deadlineKey(at, "indicator/"+in.ID))] = to
		}
	}
	ps, _ := s.Proposals()
	for _, p := range ps {
		if p.Status == ProposalOpen {
			want[string(deadlineKey(p.WindowEnds, "membership/"+p.ID))] = "closed"
		}
	}
	have := map[string]string{}
	_ = s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bDeadlines).ForEach(func(k, v []byte) error { have[string(k)] = string(v); return nil })
	})
	if len(have) != len(want) {
		t.Fatalf("deadline index holds %d keys, the state implies %d", len(have), len(want))
	}
	for k, v := range want {
		if have[k] != v {
			t.Fatalf("deadline index: %q -> %q, want %q", k[8:], have[k], v)
		}
	}
}

func TestDueFollowsTheLifecycle(t *testing.T) {
	f := newFed(t)
	s := f.open("a.db")
	due := func(at time.Time) []string {
		ts, err := s.Due(at)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tr := range ts {
			out = append(out, tr.Subject+" "+tr.To)
		}
		return out
	}
	wantOK(t, f.do(s, "FRA", nomination("N")), "")
	wantOK(t, f.do(s, "GBR", &command.Indicator{ID: "I", Kind: "route", Subject: pub(`"IRN"`), Severity: 2, Evidence: pub(`"x"`), ValidUntil: f.clock.Add(2 * time.Hour).Unix()}), "")
	checkDeadlineIndex(t, s)
	if got := due(f.clock); len(got) != 0 {
		t.Fatalf("due at once: %v", got)
	}
	f.clock = f.clock.Add(time.Hour)
	if got := due(f.clock); len(got) != 1 || got[0] != "watchlist/N closed" {
		t.Fatalf("after the window: %v", got)
	}
	wantRejected(t, f.do(s, "DEU", &command.Vote{Entry: "N", Position: "endorse"}), "window")
	f.clock = f.clock.Add(time.Minute)
	wantOK(t, f.do(s, "DEU", &command.Transition{Subject: "watchlist/N", To: "closed"}), "")
	checkDeadlineIndex(t, s)
	if got := due(f.clock.Add(2 * time.Hour)); len(got) != 1 || got[0] != "indicator/I expired" {
		t.Fatalf("two hours on: %v", got)
	}
	f.clock = f.clock.Add(2 * time.Hour)
	wantOK(t, f.do(s, "DEU", &command.Transition{Subject: "indicator/I", To: "expired"}), "indicator-expired")
	checkDeadlineIndex(t, s)
}

func (f *fed) newcomer(code string) *command.MemberCard {
	f.t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s := jws.NewSigner(priv)
	ks := jws.NewKeySet()
	ks.Add(s.Public())
	kb, _ := ks.MarshalJSON()
	id, _ := age.GenerateX25519Identity()
	f.signers[code] = s
	return &command.MemberCard{Code: code, Role: "member", SigningKeys: kb, AgeRecipient: id.Recipient().String(),
		TLSPin: "sha256:" + code, RaftAddr: "127.0.0.20:7443", GossipAddr: "127.0.0.20:7946", APIURL: "https://127.0.0.20:8443"}
}

func onRoster(s *State, code string) bool {
	for _, m := range s.Roster() {
		if m.Code == code {
			return true
		}
	}
	return false
}

// TestMembership admits a state by the voters' decision and lets it act, refuses a
// removal a voter blocks, and keeps every replica's roster equal.
func TestMembership(t *testing.T) {
	f := newFed(t)
	s := f.open("a.db")
	card := f.newcomer("NLD")
	// NLD is not a member yet: its nomination is refused.
	wantRejected(t, f.do(s, "NLD", nomination("NLD-1")), "not a member")

	wantOK(t, f.do(s, "ITA", &command.Membership{ID: "M-1", Action: "admit", Member: card}), "membership-proposed")
	wantRejected(t, f.do(s, "ITA", &command.MemberVote{Proposal: "M-1", Position: "endorse"}), "not a voter")
	wantOK(t, f.do(s, "FRA", &command.MemberVote{Proposal: "M-1", Position: "endorse"}), "membership-vote")
	wantOK(t, f.do(s, "DEU", &command.MemberVote{Proposal: "M-1", Position: "endorse"}), "membership-vote")
	wantRejected(t, f.do(s, "DEU", &command.MemberVote{Proposal: "M-1", Position: "endorse"}), "already voted")
	wantRejected(t, f.do(s, "GBR", &command.Transition{Subject: "membership/M-1", To: "closed"}), "not due until")
	if onRoster(s, "NLD") {
		t.Fatal("NLD is on the roster before the voters decided")
	}
	checkDeadlineIndex(t, s)

	f.clock = f.clock.Add(time.Hour)
	wantOK(t, f.do(s, "GBR", &command.Transition{Subject: "membership/M-1", To: "closed"}), "member-admitted")
	if !onRoster(s, "NLD") {
		t.Fatal("an approved admission did not reach the roster")
	}
	if _, ok := s.SigningKeys("NLD"); !ok {
		t.Fatal("the new member's signing keys are not known")
	}
	wantOK(t, f.do(s, "NLD", nomination("NLD-1")), "nominated")
	wantRejected(t, f.do(s, "FRA", &command.Membership{ID: "M-2", Action: "admit", Member: card}), "already a member")

	// GBR blocks the removal of ITA: it is rejected and ITA stays.
	wantOK(t, f.do(s, "FRA", &command.Membership{ID: "M-3", Action: "remove", State: "ITA"}), "membership-proposed")
	wantOK(t, f.do(s, "DEU", &command.MemberVote{Proposal: "M-3", Position: "endorse"}), "")
	wantOK(t, f.do(s, "GBR", &command.MemberVote{Proposal: "M-3", Position: "object", Blocking: true}), "")
	f.clock = f.clock.Add(time.Hour)
	wantOK(t, f.do(s, "DEU", &command.Transition{Subject: "membership/M-3", To: "closed"}), "membership-rejected")
	if !onRoster(s, "ITA") {
		t.Fatal("a blocked removal removed ITA")
	}
	// Without a block, the removal goes through and ITA can no longer act.
	wantOK(t, f.do(s, "FRA", &command.Membership{ID: "M-4", Action: "remove", State: "ITA"}), "")
	wantOK(t, f.do(s, "DEU", &command.MemberVote{Proposal: "M-4", Position: "endorse"}), "")
	f.clock = f.clock.Add(time.Hour)
	wantOK(t, f.do(s, "GBR", &command.Transition{Subject: "membership/M-4", To: "closed"}), "member-removed")
	if onRoster(s, "ITA") {
		t.Fatal("an approved removal left ITA on the roster")
	}
	wantRejected(t, f.do(s, "ITA", nomination("ITA-9")), "not a member")
	checkDeadlineIndex(t, s)

	b := f.open("b.db")
	for i, data := range f.log {
		b.Apply(uint64(i+1), data)
	}
	ha, _ := s.Hash()
	hb, _ := b.Hash()
	if ha != hb || !onRoster(b, "NLD") || onRoster(b, "ITA") {
		t.Fatal("a replica replaying the same log has another roster or state")
	}
}

// TestRestoreDoesNotWaitForAnOpenSnapshot: raft may install a snapshot from the leader
// while this node's own snapshot still holds a read transaction, which raft releases only
// after its main loop, itself waiting for the restore, answers. The restore must not wait
// for that transaction, and the open snapshot must stay readable.
func TestRestoreDoesNotWaitForAnOpenSnapshot(t *testing.T) {
	f := newFed(t)
	leader := f.open("leader.db")
	wantOK(t, f.do(leader, "FRA", nomination("N")), "")
	wantOK(t, f.do(leader, "DEU", nomination("M")), "")
	var newer bytes.Buffer
	if err := leader.Snapshot(&newer); err != nil {
		t.Fatal(err)
	}
	follower := f.open("follower.db")
	follower.Apply(1, f.log[0])
	held, err := follower.BeginSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- follower.Restore(bytes.NewReader(newer.Bytes())) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Restore is waiting for the open snapshot's read transaction")
	}
	if _, ok, _ := follower.Entry("M"); !ok || follower.Applied() != 2 {
		t.Fatalf("the restored state lacks M (applied %d)", follower.Applied())
	}
	var old bytes.Buffer
	if _, err := held.WriteTo(&old); err != nil || old.Len() == 0 {
		t.Fatalf("the snapshot taken before the restore can no longer be written: %v", err)
	}
	held.Release()
}
