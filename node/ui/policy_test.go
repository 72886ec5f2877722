package ui

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/policy"
)

func (f *fakeNode) PolicyInForce(context.Context, bool) (*api.PolicyView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.polView == nil {
		return &api.PolicyView{Policy: f.pol}, nil
	}
	return f.polView, nil
}

func (f *fakeNode) VoteMembership(_ context.Context, _ access.Principal, id string, req api.VoteRequest) (*api.FedResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.memberVotes = append(f.memberVotes, id+" "+req.Position)
	return &api.FedResult{Index: 200 + uint64(len(f.memberVotes)), Type: "member-vote", Subject: "membership/" + id}, nil
}

// withAmendments gives the fake two accepted amendments and one open one.
func withAmendments(f *fakeNode, now time.Time) {
	genesis := policy.DefaultPolicy()
	first := policy.DefaultPolicy()
	first.Voting.Consultation = policy.Duration(14 * policy.Day)
	second := first
	second.Voting.Appeal = policy.Duration(45 * policy.Day)
	proposed := second
	proposed.Voting.Review = policy.Duration(5 * policy.Year)
	f.pol = second
	f.polView = &api.PolicyView{Policy: second, Since: 30, Index: 42,
		History: []api.PolicyChange{
			{Index: 12, Time: now.Add(-48 * time.Hour), Proposal: "DEU-P-1", Proposer: "DEU", Summary: "Consultations run for fourteen days instead of ten.",
				Votes: []api.VoteView{{State: "FRA", Position: "endorse"}, {State: "GBR", Position: "object"}}, Previous: genesis, Policy: first},
			{Index: 30, Time: now.Add(-2 * time.Hour), Proposal: "GBR-P-2", Proposer: "GBR", Summary: "Appeals get forty-five days <b>to be decided</b>.",
				Votes: []api.VoteView{{State: "FRA", Position: "endorse"}}, Previous: first, Policy: second},
		},
		Proposals: []api.PolicyProposal{{ID: "DEU-P-3", Proposer: "DEU", Summary: "Listings are reviewed after five years instead of three.",
			Opened: now.Add(-time.Hour), WindowEnds: now.Add(time.Hour), Policy: proposed}},
	}
}

// TestUIPolicyHistoryAndVote shows each accepted amendment newest first with its summary,
// index, proposer, votes and what changed; shows the open amendment's vote form only to a
// role that may vote, and casts the vote through a CSRF-protected form.
func TestUIPolicyHistoryAndVote(t *testing.T) {
	f, _, b, clk := setup(t, Options{})
	withAmendments(f, clk.now())
	csrf := b.signIn("tok-steering")
	r := b.get("/ui/policy")
	if r.status != http.StatusOK {
		t.Fatalf("policy page: %d\n%s", r.status, r.body)
	}
	newer, older := strings.Index(r.body, "In force from log index 30"), strings.Index(r.body, "In force from log index 12")
	if newer < 0 || older < 0 || newer > older {
		t.Fatalf("changes not listed newest first (30 at %d, 12 at %d)", newer, older)
	}
	for _, want := range []string{
		"Consultations run for fourteen days instead of ten.",
		"Appeals get forty-five days &lt;b&gt;to be decided&lt;/b&gt;.", // escaped, never markup
		"Consultation: 10 days → 14 days",
		"Appeal: 30 days → 45 days",
		"endorsed by DEU (proposer), FRA; objections: GBR",
		"GBR-P-2",
		"Listings are reviewed after five years instead of three.",
		"Review after: 3 years → 5 years",
		`action="/ui/policy/proposals/DEU-P-3/vote"`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the policy page does not show %q", want)
		}
	}
	if strings.Contains(r.body, "<b>to be decided</b>") {
		t.Error("a summary's markup reached the page unescaped")
	}

	// A form without the session's CSRF token is refused and casts nothing.
	r = b.post("/ui/policy/proposals/DEU-P-3/vote", url.Values{"position": {"endorse"}}, nil)
	if r.status != http.StatusForbidden || len(f.memberVotes) != 0 {
		t.Fatalf("a vote without CSRF: %d, votes %v", r.status, f.memberVotes)
	}
	r = b.post("/ui/policy/proposals/DEU-P-3/vote", url.Values{"csrf": {csrf}, "position": {"endorse"}}, nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/policy?recorded=201" {
		t.Fatalf("vote: %d %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	if len(f.memberVotes) != 1 || f.memberVotes[0] != "DEU-P-3 endorse" {
		t.Fatalf("votes cast: %v", f.memberVotes)
	}
	if r = b.get("/ui/policy?recorded=201"); !strings.Contains(r.body, "log index 201") {
		t.Fatal("the page does not confirm the recorded vote")
	}
}

// TestUIPolicyVoteFormOnlyForVoters: an analyst reads the history but gets no form, and
// a vote it posts anyway is refused.
func TestUIPolicyVoteFormOnlyForVoters(t *testing.T) {
	f, _, b, clk := setup(t, Options{})
	withAmendments(f, clk.now())
	csrf := b.signIn("tok-analyst")
	r := b.get("/ui/policy")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Listings are reviewed after five years") {
		t.Fatalf("policy page for an analyst: %d", r.status)
	}
	if strings.Contains(r.body, "/ui/policy/proposals/DEU-P-3/vote") {
		t.Fatal("an analyst is offered the amendment vote form")
	}
	r = b.post("/ui/policy/proposals/DEU-P-3/vote", url.Values{"csrf": {csrf}, "position": {"endorse"}}, nil)
	if r.status != http.StatusForbidden || len(f.memberVotes) != 0 {
		t.Fatalf("an analyst's vote: %d, votes %v", r.status, f.memberVotes)
	}
}
