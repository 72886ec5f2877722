package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/federation/command"
	"github.com/entente/entente/policy"
)

// bPolicyHistory records every accepted policy amendment: key = the log index it took
// effect at (8 bytes, big-endian), value = the PolicyChange. The policy in force is
// meta/policy; this bucket is how it came to be.
var bPolicyHistory = []byte("policy-history")

// PolicyChange is one accepted amendment of the federation policy: when it took effect,
// who proposed it and in what words, how the voters voted, and the policy before and
// after, so that anyone can see what changed.
type PolicyChange struct {
	// Index is the log index from which the new policy is in force.
	Index uint64 `json:"index"`
	// Time is the leader's stamp on that entry, in Unix nanoseconds.
	Time     int64           `json:"time"`
	Proposal string          `json:"proposal"`
	Proposer string          `json:"proposer"`
	Summary  string          `json:"summary"`
	Votes    map[string]Vote `json:"votes,omitempty"`
	Previous policy.Policy   `json:"previous"`
	Policy   policy.Policy   `json:"policy"`
}

// policyBase is the log index of the policy change in force (0: the genesis policy).
func (a *applier) policyBase() uint64 {
	k, _ := a.tx.Bucket(bPolicyHistory).Cursor().Last()
	if len(k) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(k)
}

// checkPolicyChange says why an approved amendment cannot take effect, or "" when it can.
// It writes nothing.
func (a *applier) checkPolicyChange(pr *Proposal) (string, error) {
	if base := a.policyBase(); base != pr.Base {
		return fmt.Sprintf("the policy changed at log index %d after this amendment was proposed; propose it again against the policy in force", base), nil
	}
	if err := command.CheckAmendment(a.s.pol, *pr.Policy); err != nil {
		return err.Error(), nil
	}
	return "", nil
}

// changePolicy puts an approved amendment in force from this entry on: the replicated
// policy, its history, this replica's cached view, and every deadline the policy decides.
func (a *applier) changePolicy(pr *Proposal) error {
	prev, next := a.s.pol, *pr.Policy
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if err := a.tx.Bucket(bMeta).Put(kPolicy, b); err != nil {
		return err
	}
	h, err := json.Marshal(PolicyChange{Index: a.index, Time: a.now, Proposal: pr.ID, Proposer: pr.Origin, Summary: pr.Summary,
		Votes: maps.Clone(pr.Votes), Previous: prev, Policy: next})
	if err != nil {
		return err
	}
	if err := a.tx.Bucket(bPolicyHistory).Put(u64key(a.index), h); err != nil {
		return err
	}
	// As with the roster, this replica's view changes at once, so later entries in the
	// same batch are judged by the new policy; a failed commit stops the node.
	a.s.pol = next
	return a.reindexDeadlines(prev, next)
}

// reindexDeadlines moves every deadline the policy decides to where the new policy puts
// it, so that nothing falls due by the old rule. Each period keeps its start: a
// consultation still runs from the nomination, an appeal from its filing, a review from
// the listing or renewal, retention from the nomination or publication. What has already
// fallen due (a review that is due) stays due; a deadline the new rule puts in the past
// falls due at once and the chair applies it. Only the index and the deadline fields are
// rewritten: no command is added to a subject's history.
func (a *applier) reindexDeadlines(prev, next policy.Policy) error {
	shift := func(t int64, from, to policy.Duration) int64 {
		if t == 0 {
			return 0
		}
		return t - time.Duration(from).Nanoseconds() + time.Duration(to).Nanoseconds()
	}
	pv, nv := prev.Voting, next.Voting
	err := rewriteEach(a.tx.Bucket(bEntries), "entry", func(v []byte) ([]byte, error) {
		var e Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, err
		}
		switch e.Status {
		case StatusNominated:
			e.WindowEnds = e.Nominated + time.Duration(nv.Consultation).Nanoseconds()
		case StatusListed:
			e.ReviewDue = shift(e.ReviewDue, pv.Review, nv.Review)
		case StatusAppealed:
			e.ReviewDue = shift(e.ReviewDue, pv.Review, nv.Review)
			if e.Appeal != nil {
				e.AppealEnds = e.Appeal.At + time.Duration(nv.Appeal).Nanoseconds()
			}
		}
		at, to := entryDeadline(&e, next)
		if err := a.reschedule("watchlist/"+e.ID, &e.DeadlineAt, &e.DeadlineTo, at, to); err != nil {
			return nil, err
		}
		return json.Marshal(&e)
	})
	if err != nil {
		return err
	}
	err = rewriteEach(a.tx.Bucket(bIndicators), "indicator", func(v []byte) ([]byte, error) {
		var in Indicator
		if err := json.Unmarshal(v, &in); err != nil {
			return nil, err
		}
		at, to := indicatorDeadline(&in, next)
		if err := a.reschedule("indicator/"+in.ID, &in.DeadlineAt, &in.DeadlineTo, at, to); err != nil {
			return nil, err
		}
		return json.Marshal(&in)
	})
	if err != nil {
		return err
	}
	return rewriteEach(a.tx.Bucket(bProposals), "proposal", func(v []byte) ([]byte, error) {
		var p Proposal
		if err := json.Unmarshal(v, &p); err != nil {
			return nil, err
		}
		if p.Status != ProposalOpen {
			return v, nil
		}
		p.WindowEnds = p.Opened + time.Duration(nv.Consultation).Nanoseconds()
		if err := a.reschedule(p.subject(), &p.DeadlineAt, &p.DeadlineTo, p.WindowEnds, "closed"); err != nil {
			return nil, err
		}
		return json.Marshal(&p)
	})
}

// rewriteEach replaces each value of b with fn's result, writing only those that change.
// The keys are read first: a bucket is not written while a cursor walks it.
func rewriteEach(b *bbolt.Bucket, name string, fn func(v []byte) ([]byte, error)) error {
	var keys [][]byte
	if err := b.ForEach(func(k, _ []byte) error {
		keys = append(keys, bytes.Clone(k))
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		v := b.Get(k)
		nv, err := fn(v)
		if err != nil {
			return fmt.Errorf("state: re-indexing %s %s: %w", name, k, err)
		}
		if !bytes.Equal(nv, v) {
			if err := b.Put(k, nv); err != nil {
				return err
			}
		}
	}
	return nil
}

// PolicyHistory returns every accepted amendment of the federation policy, in the order
// they took effect. The genesis policy is not a change and is not listed.
func (s *State) PolicyHistory() ([]PolicyChange, error) {
	var out []PolicyChange
	err := s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bPolicyHistory)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var c PolicyChange
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}
