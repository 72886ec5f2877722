package state

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entente/entente/federation/command"
	"github.com/entente/entente/policy"
)

const amendmentSummary = "Consultations on nominations and membership run for two hours instead of one."

// amended is the genesis policy with a two-hour consultation and a 48-hour review.
func (f *fed) amended() *policy.Policy {
	p := f.genesis.Policy
	p.Voting.Consultation = policy.Duration(2 * time.Hour)
	p.Voting.Review = policy.Duration(48 * time.Hour)
	return &p
}

func amendment(id string, p *policy.Policy) *command.Membership {
	return &command.Membership{ID: id, Action: ActionPolicy, Policy: p, Summary: amendmentSummary}
}

func window(t *testing.T, s *State, id string) time.Duration {
	t.Helper()
	e, ok, err := s.Entry(id)
	if err != nil || !ok {
		t.Fatalf("entry %s: %v %v", id, ok, err)
	}
	return time.Duration(e.WindowEnds - e.Nominated)
}

// TestPolicyAmendment puts a voted amendment in force: the policy changes from the
// closing entry on, open deadlines move to the new rule, nominations afterwards get the
// new window, and a replica replaying the log, a restarted node and a restored snapshot
// all hold the same policy and the same state.
func TestPolicyAmendment(t *testing.T) {
	f := newFed(t)
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "a.db"), f.genesis)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()

	// An open nomination and a listing, both under the genesis rules.
	wantOK(t, f.do(s, "FRA", nomination("OPEN")), "nominated")
	wantOK(t, f.do(s, "FRA", nomination("LISTED")), "nominated")
	wantOK(t, f.do(s, "DEU", &command.Vote{Entry: "LISTED", Position: "endorse"}), "endorsement")
	f.clock = f.clock.Add(time.Hour)
	wantOK(t, f.do(s, "DEU", &command.Transition{Subject: "watchlist/LISTED", To: "closed"}), StatusListed)
	listed, _, _ := s.Entry("LISTED")
	wantOK(t, f.do(s, "FRA", nomination("OPEN-2")), "nominated")

	// A state refused at the door: the key epoch never changes, nor does a no-op pass.
	bad := f.amended()
	bad.KeyEpoch = policy.Duration(time.Hour)
	wantRejected(t, f.do(s, "FRA", amendment("P-0", bad)), "policy.key_epoch")
	same := f.genesis.Policy
	wantRejected(t, f.do(s, "FRA", amendment("P-0", &same)), "identical to the policy in force")
	wantRejected(t, f.do(s, "CAN", amendment("P-0", f.amended())), "observer")

	wantOK(t, f.do(s, "FRA", amendment("P-1", f.amended())), "policy-proposed")
	wantOK(t, f.do(s, "DEU", &command.MemberVote{Proposal: "P-1", Position: "endorse"}), "membership-vote")
	f.clock = f.clock.Add(time.Hour)
	if got := s.Policy().Voting.Consultation; got != policy.Duration(time.Hour) {
		t.Fatalf("the policy changed before the voters decided: consultation %s", got)
	}
	res := f.do(s, "GBR", &command.Transition{Subject: "membership/P-1", To: "closed"})
	wantOK(t, res, "policy-changed")
	changedAt := res.Index
	if got := s.Policy(); !command.SamePolicy(got, *f.amended()) {
		t.Fatalf("policy in force after the amendment: %+v", got.Voting)
	}

	// Open deadlines moved to the new rule; the index agrees with every subject.
	if got := window(t, s, "OPEN-2"); got != 2*time.Hour {
		t.Fatalf("an open nomination's window is %s after the amendment, want 2h", got)
	}
	if at, to, _ := s.NextDeadline("watchlist/OPEN-2"); to != "closed" || at != f.clock.Add(-time.Hour).Add(2*time.Hour).UnixNano() {
		t.Fatalf("OPEN-2's indexed deadline: %s %s", stamp(at), to)
	}
	after, _, _ := s.Entry("LISTED")
	if after.ReviewDue-listed.ReviewDue != int64(24*time.Hour) {
		t.Fatalf("a listing's review moved by %s, want 24h", time.Duration(after.ReviewDue-listed.ReviewDue))
	}
	checkDeadlineIndex(t, s)
	// OPEN, nominated two hours ago, closes now under the new rule rather than an hour
	// ago under the old one.
	if got := window(t, s, "OPEN"); got != 2*time.Hour {
		t.Fatalf("OPEN's window is %s after the amendment, want 2h", got)
	}

	// A nomination after the change gets the new window.
	wantOK(t, f.do(s, "DEU", nomination("NEW")), "nominated")
	if got := window(t, s, "NEW"); got != 2*time.Hour {
		t.Fatalf("a nomination after the amendment has a %s window, want 2h", got)
	}
	f.clock = f.clock.Add(time.Hour)
	wantRejected(t, f.do(s, "FRA", &command.Transition{Subject: "watchlist/NEW", To: "closed"}), "not due until")

	hist, err := s.PolicyHistory()
	if err != nil || len(hist) != 1 {
		t.Fatalf("history: %+v %v", hist, err)
	}
	h := hist[0]
	if h.Index != changedAt || h.Summary != amendmentSummary || h.Proposer != "FRA" || h.Proposal != "P-1" ||
		h.Votes["DEU"].Position != "endorse" || h.Previous.Voting.Consultation != policy.Duration(time.Hour) ||
		h.Policy.Voting.Consultation != policy.Duration(2*time.Hour) || h.Time == 0 {
		t.Fatalf("history entry: %+v", h)
	}

	// A replica replaying the log holds the genesis policy up to the change and the new
	// one from it on.
	b := f.open("b.db")
	for i, data := range f.log {
		b.Apply(uint64(i+1), data)
		want := policy.Duration(time.Hour)
		if uint64(i+1) >= changedAt {
			want = policy.Duration(2 * time.Hour)
		}
		if got := b.Policy().Voting.Consultation; got != want {
			t.Fatalf("replica after index %d: consultation %s, want %s", i+1, got, want)
		}
	}
	ha, _ := s.Hash()
	hb, _ := b.Hash()
	if ha != hb {
		t.Fatal("a replica replaying the log has another state")
	}

	// A restart reads the amended policy from the state file.
	var snap bytes.Buffer
	if err := s.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(filepath.Join(dir, "a.db"), f.genesis); err != nil {
		t.Fatal(err)
	}
	if got := s.Policy().Voting.Consultation; got != policy.Duration(2*time.Hour) {
		t.Fatalf("after a restart the consultation is %s", got)
	}

	// A fresh node restored from the snapshot holds the amended policy and the same hash.
	c := f.open("c.db")
	if err := c.Restore(&snap); err != nil {
		t.Fatal(err)
	}
	hc, _ := c.Hash()
	if hc != ha || c.Policy().Voting.Consultation != policy.Duration(2*time.Hour) {
		t.Fatalf("restored: hash equal %v, consultation %s", hc == ha, c.Policy().Voting.Consultation)
	}
	if hist, _ := c.PolicyHistory(); len(hist) != 1 || hist[0].Summary != amendmentSummary {
		t.Fatalf("restored history: %+v", hist)
	}
}

// TestPolicyAmendmentRejected leaves everything as it was when the voters block an
// amendment, and refuses an amendment decided after another one took effect.
func TestPolicyAmendmentRejected(t *testing.T) {
	f := newFed(t)
	s := f.open("a.db")
	wantOK(t, f.do(s, "FRA", amendment("P-1", f.amended())), "policy-proposed")
	wantOK(t, f.do(s, "DEU", &command.MemberVote{Proposal: "P-1", Position: "endorse"}), "")
	wantOK(t, f.do(s, "GBR", &command.MemberVote{Proposal: "P-1", Position: "object", Blocking: true}), "")
	f.clock = f.clock.Add(time.Hour)
	wantOK(t, f.do(s, "DEU", &command.Transition{Subject: "membership/P-1", To: "closed"}), "policy-rejected")
	if !command.SamePolicy(s.Policy(), f.genesis.Policy) {
		t.Fatal("a blocked amendment changed the policy")
	}
	if hist, _ := s.PolicyHistory(); len(hist) != 0 {
		t.Fatalf("a blocked amendment is in the history: %+v", hist)
	}
	wantOK(t, f.do(s, "FRA", nomination("N")), "")
	if got := window(t, s, "N"); got != time.Hour {
		t.Fatalf("after a blocked amendment a nomination's window is %s", got)
	}

	// Two amendments open at once: the first to take effect wins, the second is
	// rejected rather than silently undo it.
	second := f.amended()
	second.Voting.Appeal = policy.Duration(3 * time.Hour)
	wantOK(t, f.do(s, "FRA", amendment("P-2", f.amended())), "")
	wantOK(t, f.do(s, "GBR", amendment("P-3", second)), "")
	for _, id := range []string{"P-2", "P-3"} {
		wantOK(t, f.do(s, "DEU", &command.MemberVote{Proposal: id, Position: "endorse"}), "")
	}
	f.clock = f.clock.Add(2 * time.Hour)
	wantOK(t, f.do(s, "DEU", &command.Transition{Subject: "membership/P-2", To: "closed"}), "policy-changed")
	wantOK(t, f.do(s, "DEU", &command.Transition{Subject: "membership/P-3", To: "closed"}), "policy-rejected")
	ps, _ := s.Proposals()
	for _, p := range ps {
		if p.ID == "P-3" && (p.Status != ProposalRejected || !strings.Contains(p.Reason, "policy changed")) {
			t.Fatalf("P-3: %s %q", p.Status, p.Reason)
		}
	}
	if s.Policy().Voting.Appeal != f.genesis.Policy.Voting.Appeal {
		t.Fatal("a stale amendment took effect")
	}
	checkDeadlineIndex(t, s)
}
