package api

import (
	"encoding/json"
	"time"

	"github.com/entente/entente/federation/state"
)

// FedResult is the answer to a federation write: the log index it committed at, and
// either the alerts it raised or why every replica rejected it.
type FedResult struct {
	Index    uint64        `json:"index"`
	Type     string        `json:"type"`
	Subject  string        `json:"subject,omitempty"`
	Rejected string        `json:"rejected,omitempty"`
	Alerts   []state.Alert `json:"alerts,omitempty"`
}

// Basis is the legal basis of a nomination.
type Basis struct {
	Regime       string   `json:"regime"`
	ControlCodes []string `json:"control_codes,omitempty"`
}

// NominationRequest nominates a party for the consensus watchlist.
type NominationRequest struct {
	ID        string            `json:"id,omitempty"`
	Kind      string            `json:"kind"`
	Party     json.RawMessage   `json:"party"`
	Basis     Basis             `json:"basis"`
	Rationale string            `json:"rationale,omitempty"`
	Markings  map[string]string `json:"markings,omitempty"`
}

// VoteRequest endorses or objects to a nomination (endorse, object), or decides an appeal
// (delist, uphold).
type VoteRequest struct {
	Position string `json:"position"`
	Blocking bool   `json:"blocking,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Marking  string `json:"marking,omitempty"`
}

// AppealRequest appeals a listing.
type AppealRequest struct {
	Grounds string `json:"grounds"`
	Marking string `json:"marking,omitempty"`
}

// IndicatorRequest publishes a risk indicator.
type IndicatorRequest struct {
	ID              string    `json:"id,omitempty"`
	Kind            string    `json:"kind"`
	Subject         string    `json:"subject"`
	SubjectMarking  string    `json:"subject_marking,omitempty"`
	Severity        int       `json:"severity"`
	Evidence        string    `json:"evidence"`
	EvidenceMarking string    `json:"evidence_marking,omitempty"`
	ValidUntil      time.Time `json:"valid_until"`
}

// VoteView is one state's vote as a caller sees it.
type VoteView struct {
	State    string     `json:"state"`
	Position string     `json:"position"`
	Blocking bool       `json:"blocking,omitempty"`
	Reason   *FieldView `json:"reason,omitempty"`
	At       time.Time  `json:"at,omitzero"`
	Index    uint64     `json:"index,omitempty"`
}

// WatchlistEntry is a consensus watchlist entry with its fields opened where this node
// is cleared, and shown as sealed with their marking where it is not.
type WatchlistEntry struct {
	ID          string               `json:"id"`
	Kind        string               `json:"kind"`
	Origin      string               `json:"origin"`
	Status      string               `json:"status"`
	Fields      map[string]FieldView `json:"fields"`
	Nominated   *time.Time           `json:"nominated,omitempty"`
	WindowEnds  *time.Time           `json:"window_ends,omitempty"`
	Decided     *time.Time           `json:"decided,omitempty"`
	ReviewDue   *time.Time           `json:"review_due,omitempty"`
	AppealEnds  *time.Time           `json:"appeal_ends,omitempty"`
	Votes       []VoteView           `json:"votes,omitempty"`
	AppealVotes []VoteView           `json:"appeal_votes,omitempty"`
	// Decisions are the voters' decisions on a disputed entry (list or reject).
	Decisions []VoteView `json:"decisions,omitempty"`
	// Appeal is the appeal brought against the listing, while the entry is under appeal
	// and after: who brought it, when, and its grounds as the caller may see them.
	Appeal   *AppealView `json:"appeal,omitempty"`
	Commands []uint64    `json:"commands"`
}

// AppealView is an appeal against a listing as a caller sees it.
type AppealView struct {
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Grounds FieldView `json:"grounds"`
}

// IndicatorView is a risk indicator as a caller sees it.
type IndicatorView struct {
	ID            string    `json:"id"`
	Kind          string    `json:"kind"`
	Origin        string    `json:"origin"`
	Severity      int       `json:"severity"`
	Status        string    `json:"status"`
	Subject       FieldView `json:"subject"`
	Evidence      FieldView `json:"evidence"`
	Published     time.Time `json:"published"`
	ValidUntil    time.Time `json:"valid_until"`
	Corroborators []string  `json:"corroborators,omitempty"`
}

// AdmissionRequest proposes to admit a state: its member card, as entente init printed it,
// and its role (member by default).
type AdmissionRequest struct {
	ID   string          `json:"id,omitempty"`
	Card json.RawMessage `json:"card"`
	Role string          `json:"role,omitempty"`
}

// RemovalRequest proposes to remove a state.
type RemovalRequest struct {
	ID    string `json:"id,omitempty"`
	State string `json:"state"`
}
