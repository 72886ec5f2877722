package ui

import (
	"context"

	"github.com/entente/entente/federation"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/audit"
	"github.com/entente/entente/policy"
)

// Service is what the dashboard needs from the node. It is the API's view of the node
// (the same methods, so the dashboard shows exactly what the API serves) plus three
// reads the API does not offer: the federation policy in force, the proof of origin of
// an entry's signed commands, and the current chair.
type Service interface {
	// Authenticate turns a bearer token into a principal; the dashboard calls it on every
	// request with the session's token.
	Authenticate(raw string) (access.Principal, error)

	Watchlist(ctx context.Context, p access.Principal, status string, linearizable bool) ([]api.WatchlistEntry, uint64, error)
	WatchlistEntry(ctx context.Context, p access.Principal, id string, linearizable bool) (*api.WatchlistEntry, uint64, error)
	Vote(ctx context.Context, p access.Principal, id string, req api.VoteRequest) (*api.FedResult, error)
	Indicators(ctx context.Context, p access.Principal, linearizable bool) ([]api.IndicatorView, uint64, error)
	FederationMembers() ([]federation.Member, error)
	FederationStatus() (*federation.Status, error)

	// PolicyInForce is the federation policy in force, its change history and the open
	// amendments; VoteMembership casts this state's vote on one of them.
	PolicyInForce(ctx context.Context, linearizable bool) (*api.PolicyView, error)
	VoteMembership(ctx context.Context, p access.Principal, id string, req api.VoteRequest) (*api.FedResult, error)

	AlertPage(p access.Principal, after uint64, limit int, kinds []string) (*api.AlertPage, error)
	FeedWait() <-chan struct{}

	AuditEntries(after uint64, limit int) ([]audit.Entry, error)
	VerifyAudit() (api.AuditStatus, error)

	// FederationPolicy is the replicated federation policy in force.
	FederationPolicy() (policy.Policy, error)
	// CommandProofs returns the signed commands at the given log indices, each checked
	// against its originator's keys on the replicated roster. An index whose command is
	// gone (purged) is left out.
	CommandProofs(indices []uint64) ([]CommandProof, error)
	// Chair is the state whose node leads raft now (the chair), or "" when there is none.
	Chair() (string, error)
}

// CommandProof is one replicated command's proof of origin as this node checked it: the
// originating state's detached JWS over the command's signing input, and whether it
// verifies with that state's keys on the roster.
type CommandProof struct {
	Index     uint64 `json:"index"`
	Type      string `json:"type"`
	Origin    string `json:"origin"`
	Signature string `json:"signature"`
	// KeyID is the key that signed, when the signature verifies.
	KeyID    string `json:"kid,omitempty"`
	Verified bool   `json:"verified"`
	// Problem says why the signature does not verify.
	Problem string `json:"problem,omitempty"`
}
