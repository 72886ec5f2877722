package state

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/federation/command"
	"github.com/entente/entente/policy"
)

// bProposals holds membership proposals: admitting or removing a state, or amending the
// federation policy.
var bProposals = []byte("proposals")

// Proposal statuses.
const (
	ProposalOpen     = "open"
	ProposalApproved = "approved"
	ProposalRejected = "rejected"
)

// ActionPolicy is the action of a membership proposal that amends the federation policy.
const ActionPolicy = "policy"

// Proposal is a membership proposal and how the voters decided it.
type Proposal struct {
	ID         string              `json:"id"`
	Action     string              `json:"action"`
	Member     *command.MemberCard `json:"member,omitempty"`
	State      string              `json:"state,omitempty"`
	Origin     string              `json:"origin"`
	Status     string              `json:"status"`
	Reason     string              `json:"reason,omitempty"`
	Opened     int64               `json:"opened"`
	WindowEnds int64               `json:"window_ends"`
	Decided    int64               `json:"decided,omitempty"`
	Votes      map[string]Vote     `json:"votes,omitempty"`
	Commands   []uint64            `json:"commands"`
	DeadlineAt int64               `json:"deadline_at,omitempty"`
	DeadlineTo string              `json:"deadline_to,omitempty"`
	// Policy and Summary are a policy amendment's proposed policy and its public summary.
	Policy  *policy.Policy `json:"policy,omitempty"`
	Summary string         `json:"summary,omitempty"`
	// Base is the log index of the policy change in force when the amendment was opened
	// (0: the genesis policy). An amendment decided after another one took effect would
	// silently undo it, so it is rejected instead and proposed again.
	Base uint64 `json:"base,omitempty"`
}

// subject names the proposal in alerts and the deadline index.
func (p *Proposal) subject() string { return "membership/" + p.ID }

// Target is the state the proposal would admit or remove; "" for a policy amendment.
func (p *Proposal) Target() string {
	if p.Member != nil {
		return p.Member.Code
	}
	return p.State
}

func (a *applier) getProposal(id string) (*Proposal, error) {
	v := a.tx.Bucket(bProposals).Get([]byte(id))
	if v == nil {
		return nil, reject("no membership proposal %s", id)
	}
	var p Proposal
	if err := json.Unmarshal(v, &p); err != nil {
		return nil, fmt.Errorf("state: proposal %s: %w", id, err)
	}
	return &p, nil
}

func (a *applier) putProposal(p *Proposal) error {
	p.Commands = append(p.Commands, a.index)
	at, to := int64(0), ""
	if p.Status == ProposalOpen {
		at, to = p.WindowEnds, "closed"
	}
	if err := a.reschedule(p.subject(), &p.DeadlineAt, &p.DeadlineTo, at, to); err != nil {
		return err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return a.tx.Bucket(bProposals).Put([]byte(p.ID), b)
}

func (a *applier) membership(p *command.Membership) error {
	m, _ := a.member()
	if m.Role == policy.RoleObserver {
		return reject("%s is an observer and cannot propose membership changes", m.Code)
	}
	if a.tx.Bucket(bProposals).Get([]byte(p.ID)) != nil {
		return reject("membership proposal %s already exists", p.ID)
	}
	target := p.State
	if p.Member != nil {
		target = p.Member.Code
	}
	_, onRoster := a.s.roster[target]
	if p.Action == "admit" && onRoster {
		return reject("%s is already a member", target)
	}
	if p.Action == "remove" && !onRoster {
		return reject("%s is not a member", target)
	}
	pr := &Proposal{ID: p.ID, Action: p.Action, Member: p.Member, State: p.State, Origin: a.c.Origin, Status: ProposalOpen,
		Opened: a.now, WindowEnds: a.now + time.Duration(a.s.pol.Voting.Consultation).Nanoseconds()}
	alert := "membership-proposed"
	if p.Action == ActionPolicy {
		if err := command.CheckAmendment(a.s.pol, *p.Policy); err != nil {
			return reject("%v", err)
		}
		pr.Policy, pr.Summary, pr.Base = p.Policy, p.Summary, a.policyBase()
		alert = "policy-proposed"
	}
	if err := a.putProposal(pr); err != nil {
		return err
	}
	return a.alert(alert, pr.subject())
}

func (a *applier) memberVote(p *command.MemberVote) error {
	m, _ := a.member()
	if m.Role != policy.RoleVoter {
		return reject("%s is not a voter; membership is decided by the steering body", m.Code)
	}
	pr, err := a.getProposal(p.Proposal)
	if err != nil {
		return err
	}
	if pr.Status != ProposalOpen {
		return reject("membership proposal %s is %s", pr.ID, pr.Status)
	}
	if a.now >= pr.WindowEnds {
		return reject("the consultation on membership proposal %s closed at %s", pr.ID, stamp(pr.WindowEnds))
	}
	if pr.Origin == a.c.Origin {
		return reject("%s proposed %s and does not vote on its own proposal", a.c.Origin, pr.ID)
	}
	if _, dup := pr.Votes[a.c.Origin]; dup {
		return reject("%s has already voted on %s", a.c.Origin, pr.ID)
	}
	if pr.Votes == nil {
		pr.Votes = map[string]Vote{}
	}
	pr.Votes[a.c.Origin] = Vote{Position: p.Position, Blocking: p.Blocking, At: a.now, Index: a.index}
	if err := a.putProposal(pr); err != nil {
		return err
	}
	return a.alert("membership-vote", pr.subject())
}

// membershipTransition closes a proposal's consultation: approved by the listing rules,
// the roster changes in this same transaction; otherwise the proposal is rejected.
func (a *applier) membershipTransition(id, to string) error {
	pr, err := a.getProposal(id)
	if err != nil {
		return err
	}
	if to != "closed" || pr.Status != ProposalOpen {
		return reject("membership proposal %s is %s and cannot move to %s", pr.ID, pr.Status, to)
	}
	if a.now < pr.WindowEnds {
		return reject("the consultation on membership proposal %s is not due until %s", pr.ID, stamp(pr.WindowEnds))
	}
	endorse, blocking := 0, 0
	if a.s.roster[pr.Origin].Role == policy.RoleVoter {
		endorse++
	}
	for st, v := range pr.Votes {
		if a.s.roster[st].Role != policy.RoleVoter {
			continue
		}
		if v.Position == "endorse" {
			endorse++
		} else if v.Blocking {
			blocking++
		}
	}
	pr.Decided = a.now
	pr.Status = ProposalRejected
	alert := "membership-rejected"
	if pr.Action == ActionPolicy {
		alert = "policy-rejected"
	}
	if a.s.pol.Voting.Listed(endorse, blocking, a.voters()) {
		change := a.changeRoster
		if pr.Action == ActionPolicy {
			change = a.checkPolicyChange
		}
		reason, err := change(pr)
		if err != nil {
			return err
		}
		if reason == "" {
			pr.Status = ProposalApproved
			switch pr.Action {
			case "admit":
				alert = "member-admitted"
			case "remove":
				alert = "member-removed"
			case ActionPolicy:
				alert = "policy-changed"
			}
		} else {
			pr.Reason = reason
		}
	} else {
		pr.Reason = "the voters did not approve it"
	}
	if err := a.putProposal(pr); err != nil {
		return err
	}
	if pr.Action == ActionPolicy && pr.Status == ProposalApproved {
		// Written after the proposal itself, so that re-indexing the open proposals sees
		// this one closed.
		if err := a.changePolicy(pr); err != nil {
			return err
		}
	}
	return a.alert(alert, pr.subject())
}

// changeRoster applies an approved proposal to the replicated roster and to this
// replica's view of it. It returns why the change cannot be made, if it cannot (the roster
// moved on since the proposal), without changing anything.
func (a *applier) changeRoster(pr *Proposal) (string, error) {
	var members []Member
	if err := json.Unmarshal(a.tx.Bucket(bMeta).Get(kRoster), &members); err != nil {
		return "", fmt.Errorf("state: roster: %w", err)
	}
	var keys *jws.KeySet
	switch pr.Action {
	case "admit":
		for _, m := range members {
			if m.Code == pr.Member.Code {
				return pr.Member.Code + " became a member meanwhile", nil
			}
		}
		var err error
		if keys, err = jws.ParseKeySet(pr.Member.SigningKeys); err != nil {
			return "the signing keys do not parse", nil
		}
		c := pr.Member
		members = append(members, Member{Code: c.Code, Role: policy.MemberRole(c.Role), SigningKeys: c.SigningKeys, AgeRecipient: c.AgeRecipient,
			TLSPin: c.TLSPin, RaftAddr: c.RaftAddr, GossipAddr: c.GossipAddr, APIURL: c.APIURL})
	case "remove":
		kept, voters := members[:0:0], 0
		for _, m := range members {
			if m.Code != pr.State {
				kept = append(kept, m)
				if m.Role == policy.RoleVoter {
					voters++
				}
			}
		}
		if len(kept) == len(members) {
			return pr.State + " is no longer a member", nil
		}
		if voters == 0 {
			return "removing " + pr.State + " would leave the federation without a voter", nil
		}
		members = kept
	}
	b, _ := json.Marshal(members)
	if err := a.tx.Bucket(bMeta).Put(kRoster, b); err != nil {
		return "", err
	}
	// This replica's view changes at once, so that later entries in the same batch are
	// judged by the new roster. A failed commit stops the node, so it never runs ahead of
	// the file.
	if pr.Action == "admit" {
		m := members[len(members)-1]
		a.s.roster[m.Code] = m
		a.s.keysets[m.Code] = keys
	} else {
		delete(a.s.roster, pr.State)
		delete(a.s.keysets, pr.State)
	}
	return "", nil
}
