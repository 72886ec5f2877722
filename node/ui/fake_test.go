package ui

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/federation"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/audit"
	"github.com/entente/entente/policy"
)

// fakeNode is an in-memory Service: tokens by their text, a watchlist, indicators, a
// roster and an alert feed, and a record of the votes cast through it.
type fakeNode struct {
	mu         sync.Mutex
	tokens     map[string]access.Principal
	revoked    map[string]bool
	expired    map[string]bool
	entries    []api.WatchlistEntry
	indicators []api.IndicatorView
	alerts     []api.AlertView
	votes      []api.VoteRequest
	feed       chan struct{}
	pol        policy.Policy
	// polView is what PolicyInForce answers; memberVotes records VoteMembership calls.
	polView     *api.PolicyView
	memberVotes []string
	// chairSince is what the chair's node (FRA) says about its period in the chair.
	chairSince time.Time
}

func newFake(now time.Time) *fakeNode {
	f := &fakeNode{tokens: map[string]access.Principal{}, revoked: map[string]bool{}, expired: map[string]bool{}, feed: make(chan struct{}), pol: policy.DefaultPolicy()}
	for _, role := range policy.Roles() {
		f.tokens["tok-"+string(role)] = access.Principal{TokenID: "id-" + string(role), Subject: "alice (" + string(role) + ")", Role: role, Expiry: now.Add(time.Hour)}
	}
	nominated, ends := now.Add(-time.Hour), now.Add(time.Hour)
	f.entries = []api.WatchlistEntry{
		{ID: "FRA-1", Kind: "denied-party", Origin: "FRA", Status: "listed", Nominated: &nominated, Decided: ptr(now.Add(-30 * time.Minute)),
			Fields: map[string]api.FieldView{
				"party":     {Marking: "REL TO FEDERATION", Value: []byte(`{"type":"organisation","name":"Qeshm Gyro Trading","aliases":["QGT"],"countries":["IRN"]}`)},
				"basis":     {Marking: "PUBLIC", Value: []byte(`{"regime":"national","control_codes":["ML4","3A001"]}`)},
				"rationale": {Marking: "REL TO DEU,FRA", Sealed: true},
			},
			Votes:    []api.VoteView{{State: "DEU", Position: "endorse", At: now.Add(-50 * time.Minute), Index: 7}},
			Commands: []uint64{5, 7}},
		{ID: "DEU-2", Kind: "end-user-of-concern", Origin: "DEU", Status: "nominated", Nominated: &nominated, WindowEnds: &ends,
			Fields: map[string]api.FieldView{
				"party": {Marking: "REL TO FEDERATION", Value: []byte(`{"type":"organisation","name":"<script>alert(1)</script> Holdings","countries":["SYR"]}`)},
				"basis": {Marking: "PUBLIC", Value: []byte(`{"regime":"UN 1718","control_codes":["ML10"]}`)},
			},
			Commands: []uint64{9}},
		{ID: "GBR-3", Kind: "denied-party", Origin: "GBR", Status: "nominated", Nominated: &nominated, WindowEnds: &ends,
			Fields:   map[string]api.FieldView{"party": {Marking: "REL TO GBR,DEU", Sealed: true}, "basis": {Marking: "PUBLIC", Value: []byte(`{"regime":"national"}`)}},
			Commands: []uint64{11}},
	}
	f.indicators = []api.IndicatorView{
		{ID: "I-1", Kind: "destination", Origin: "FRA", Severity: 5, Status: "active", Subject: api.FieldView{Marking: "PUBLIC", Value: []byte(`"CAF"`)},
			Evidence: api.FieldView{Marking: "REL TO FEDERATION", Value: []byte(`"embargo"`)}, Published: now.Add(-10 * time.Minute), ValidUntil: now.Add(48 * time.Hour)},
		{ID: "I-2", Kind: "diversion", Origin: "DEU", Severity: 4, Status: "active", Subject: api.FieldView{Marking: "PUBLIC", Value: []byte(`"COD"`)},
			Evidence: api.FieldView{Marking: "REL TO DEU", Sealed: true}, Published: now.Add(-2 * time.Hour), ValidUntil: now.Add(48 * time.Hour)},
	}
	return f
}

func ptr[T any](v T) *T { return &v }

func (f *fakeNode) Authenticate(raw string) (access.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case raw == "":
		return access.Principal{}, access.ErrNoToken
	case f.revoked[raw]:
		return access.Principal{}, access.ErrRevoked
	case f.expired[raw]:
		return access.Principal{}, jws.ErrExpired
	}
	p, ok := f.tokens[raw]
	if !ok {
		return access.Principal{}, jws.ErrSignature
	}
	return p, nil
}

func (f *fakeNode) revoke(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked[tok] = true
}

func (f *fakeNode) Watchlist(_ context.Context, _ access.Principal, status string, _ bool) ([]api.WatchlistEntry, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.WatchlistEntry
	for _, e := range f.entries {
		if status == "" || e.Status == status {
			out = append(out, e)
		}
	}
	return out, 42, nil
}

func (f *fakeNode) WatchlistEntry(_ context.Context, _ access.Principal, id string, _ bool) (*api.WatchlistEntry, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.entries {
		if e.ID == id {
			return &e, 42, nil
		}
	}
	return nil, 0, &api.Error{Status: http.StatusNotFound, Code: "not_found", Msg: "no watchlist entry with that id"}
}

func (f *fakeNode) Vote(_ context.Context, _ access.Principal, id string, req api.VoteRequest) (*api.FedResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.votes = append(f.votes, req)
	return &api.FedResult{Index: 100 + uint64(len(f.votes)), Type: "vote", Subject: "watchlist/" + id}, nil
}

func (f *fakeNode) voteCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.votes)
}

func (f *fakeNode) Indicators(context.Context, access.Principal, bool) ([]api.IndicatorView, uint64, error) {
	return f.indicators, 42, nil
}

func (f *fakeNode) FederationMembers() ([]federation.Member, error) {
	return []federation.Member{
		{Code: "DEU", Role: policy.RoleVoter, Alive: true, Verified: true, RaftRole: "Follower", Applied: 40, Lag: 2},
		{Code: "FRA", Role: policy.RoleVoter, Alive: true, Verified: true, Leader: true, RaftRole: "Leader", Applied: 42, ChairSince: f.chairSince},
		{Code: "GBR", Role: policy.RoleVoter, Alive: false},
	}, nil
}

func (f *fakeNode) FederationStatus() (*federation.Status, error) {
	return &federation.Status{State: "FRA", Role: "Leader", Leader: "FRA", Applied: 42, Members: 3}, nil
}

func (f *fakeNode) AlertPage(_ access.Principal, after uint64, limit int, kinds []string) (*api.AlertPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	page := &api.AlertPage{Next: after}
	for _, a := range f.alerts {
		if a.Seq <= after {
			continue
		}
		if len(page.Alerts) >= limit {
			break
		}
		page.Next = a.Seq
		if len(kinds) == 0 || slices.Contains(kinds, a.Kind) {
			page.Alerts = append(page.Alerts, a)
		}
	}
	return page, nil
}

// addAlert appends an alert to the feed and wakes its waiters.
func (f *fakeNode) addAlert(kind, subject string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alerts = append(f.alerts, api.AlertView{Seq: uint64(len(f.alerts) + 1), Source: "federation", Time: at, Kind: kind, Subject: subject, Origin: "FRA"})
	close(f.feed)
	f.feed = make(chan struct{})
}

func (f *fakeNode) FeedWait() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.feed
}

func (f *fakeNode) AuditEntries(after uint64, limit int) ([]audit.Entry, error) {
	return []audit.Entry{{Seq: 1, Action: "record.create", Actor: "officer <b>", Object: "records/R-1", Hash: "abc"}}, nil
}

func (f *fakeNode) VerifyAudit() (api.AuditStatus, error) {
	return api.AuditStatus{OK: true, Entries: 1, Head: "abc", HeadSeq: 1}, nil
}

func (f *fakeNode) FederationPolicy() (policy.Policy, error) { return f.pol, nil }

func (f *fakeNode) CommandProofs(indices []uint64) ([]CommandProof, error) {
	var out []CommandProof
	for _, i := range indices {
		p := CommandProof{Index: i, Type: "vote", Origin: "DEU", Signature: "eyJhbGciOiJFZERTQSJ9..c2lnbmF0dXJl", Verified: true, KeyID: "kid-deu"}
		if i == 5 {
			p.Type, p.Origin = "nominate", "FRA"
		}
		out = append(out, p)
	}
	return out, nil
}

func (f *fakeNode) Chair() (string, error) { return "FRA", nil }
