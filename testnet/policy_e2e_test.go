package testnet_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/client"
	"github.com/entente/entente/policy"
)

// TestPolicyAmendmentOnEveryNode proposes a policy amendment on one node, has the other
// voters endorse it on theirs, and checks that every node then reports the new policy
// and the change with its summary, and that a nomination made afterwards gets the new
// consultation window.
func TestPolicyAmendmentOnEveryNode(t *testing.T) {
	net := upFed(t, 3)
	var cur api.PolicyView
	if err := call(t, net, 0, "analyst", "GET", "/v1/federation/policy", nil, &cur); err != nil {
		t.Fatal(err)
	}
	if len(cur.History) != 0 || cur.Since != 0 {
		t.Fatalf("a new federation has a policy history: %+v", cur.History)
	}
	const window = 7 * time.Second
	if time.Duration(cur.Policy.Voting.Consultation) == window {
		t.Fatalf("the test's genesis consultation is already %s", window)
	}
	proposed := cur.Policy
	proposed.Voting.Consultation = policy.Duration(window)
	body := func(p policy.Policy, summary string) api.PolicyProposalRequest {
		b, _ := json.Marshal(p)
		return api.PolicyProposalRequest{ID: "AMEND-1", Policy: b, Summary: summary}
	}
	const summary = "Members get seven seconds instead of three to endorse or object to a nomination."

	// Refused before anything is proposed: the key epoch never changes.
	epoch := proposed
	epoch.KeyEpoch = policy.Duration(2 * time.Duration(cur.Policy.KeyEpoch))
	err := call(t, net, 0, "steering", "POST", "/v1/federation/policy-proposals", body(epoch, summary), nil)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Field != "policy.key_epoch" {
		t.Fatalf("a key epoch change: %v, want 400 naming policy.key_epoch", err)
	}
	// An analyst may read the policy but not propose one.
	err = call(t, net, 0, "analyst", "POST", "/v1/federation/policy-proposals", body(proposed, summary), nil)
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Fatalf("an analyst's proposal: %v, want 403", err)
	}

	var res api.FedResult
	if err := call(t, net, 0, "steering", "POST", "/v1/federation/policy-proposals", body(proposed, summary), &res); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2} {
		if err := call(t, net, i, "steering", "POST", "/v1/federation/proposals/AMEND-1/votes", api.VoteRequest{Position: "endorse"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range net.Nodes {
		eventually(t, 40*time.Second, "the amendment on "+n.State, func() (bool, string) {
			var v api.PolicyView
			if err := call(t, net, i, "analyst", "GET", "/v1/federation/policy", nil, &v); err != nil {
				return false, err.Error()
			}
			if time.Duration(v.Policy.Voting.Consultation) != window || len(v.History) != 1 {
				return false, fmt.Sprintf("consultation %s, %d changes", v.Policy.Voting.Consultation, len(v.History))
			}
			h := v.History[0]
			if h.Summary != summary || h.Proposal != "AMEND-1" || h.Proposer != net.Nodes[0].State || h.Index <= res.Index || v.Since != h.Index || len(h.Votes) != 2 {
				return false, fmt.Sprintf("history %+v", h)
			}
			return true, ""
		})
	}

	// A nomination made after the change has the new window.
	if err := call(t, net, 1, "officer", "POST", "/v1/watchlist/nominations", nomination("AFTER-AMENDMENT", "Later Party SA", "REL TO FEDERATION"), nil); err != nil {
		t.Fatal(err)
	}
	var e api.WatchlistEntry
	eventually(t, 20*time.Second, "the nomination on "+net.Nodes[1].State, func() (bool, string) {
		var err error
		e, err = entryOn(t, net, 1, "AFTER-AMENDMENT")
		return err == nil, fmt.Sprint(err)
	})
	if e.Nominated == nil || e.WindowEnds == nil || e.WindowEnds.Sub(*e.Nominated) != window {
		t.Fatalf("a nomination after the amendment: nominated %v, window ends %v; want a %s window", e.Nominated, e.WindowEnds, window)
	}
	converged(t, net)
}
