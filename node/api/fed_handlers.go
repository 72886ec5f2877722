package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/federation"
	"github.com/entente/entente/federation/state"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/policy"
)

// FederationService is what the federation routes need from the node.
type FederationService interface {
	Nominate(ctx context.Context, p access.Principal, req NominationRequest) (*FedResult, error)
	Vote(ctx context.Context, p access.Principal, id string, req VoteRequest) (*FedResult, error)
	Appeal(ctx context.Context, p access.Principal, id string, req AppealRequest) (*FedResult, error)
	Renew(ctx context.Context, p access.Principal, id string) (*FedResult, error)
	PublishIndicator(ctx context.Context, p access.Principal, req IndicatorRequest) (*FedResult, error)
	Corroborate(ctx context.Context, p access.Principal, id string) (*FedResult, error)
	Withdraw(ctx context.Context, p access.Principal, id string) (*FedResult, error)
	Watchlist(ctx context.Context, p access.Principal, status string, linearizable bool) ([]WatchlistEntry, uint64, error)
	WatchlistEntry(ctx context.Context, p access.Principal, id string, linearizable bool) (*WatchlistEntry, uint64, error)
	Indicators(ctx context.Context, p access.Principal, linearizable bool) ([]IndicatorView, uint64, error)
	FederationMembers() ([]federation.Member, error)
	FederationStatus() (*federation.Status, error)
	RotateChair(ctx context.Context, p access.Principal) (string, error)
	// PeerState maps a TLS client certificate pin to a roster state.
	PeerState(pin string) (string, bool)
	ProposeAdmission(ctx context.Context, p access.Principal, req AdmissionRequest) (*FedResult, error)
	ProposeRemoval(ctx context.Context, p access.Principal, req RemovalRequest) (*FedResult, error)
	VoteMembership(ctx context.Context, p access.Principal, id string, req VoteRequest) (*FedResult, error)
	Proposals() ([]*state.Proposal, error)
	// ProposePolicy proposes an amendment of the federation policy; the voters decide it
	// as they decide a membership proposal.
	ProposePolicy(ctx context.Context, p access.Principal, req PolicyProposalRequest) (*FedResult, error)
	// PolicyInForce is the federation policy in force, how it came to be, and the
	// amendments still open.
	PolicyInForce(ctx context.Context, linearizable bool) (*PolicyView, error)
	AcceptForwarded(ctx context.Context, raw []byte) (*state.Result, error)
	LeaderReadIndex(ctx context.Context) (uint64, error)
}

// actPeer marks the routes other members' nodes call; no client role is granted it, and
// the caller is identified by its TLS client certificate pinned to the roster.
const actPeer policy.Action = "federation:peer"

// peerState authenticates a member node by its client certificate.
func (s *Server) peerState(r *http.Request) (string, bool) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", false
	}
	return s.svc.PeerState(identity.Pin(r.TLS.PeerCertificates[0]))
}

func (s *Server) writeFed(w http.ResponseWriter, res *FedResult, err error, created bool) {
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	if res.Rejected != "" {
		writeError(w, http.StatusConflict, "rejected", "", fmt.Sprintf("the federation rejected it at log index %d: %s", res.Index, res.Rejected),
			"every member applied the same rule; nothing changed")
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, res)
}

func (s *Server) nominate(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req NominationRequest
	if err := decodeBody(r, &req); err != nil {
		s.writeServiceError(w, err)
		return
	}
	res, err := s.svc.Nominate(r.Context(), p, req)
	s.writeFed(w, res, err, true)
}

func (s *Server) vote(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req VoteRequest
	if err := decodeBody(r, &req); err != nil {
		s.writeServiceError(w, err)
		return
	}
	res, err := s.svc.Vote(r.Context(), p, r.PathValue("id"), req)
	s.writeFed(w, res, err, false)
}

func (s *Server) appeal(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req AppealRequest
	if err := decodeBody(r, &req); err != nil {
		s.writeServiceError(w, err)
		return
	}
	res, err := s.svc.Appeal(r.Context(), p, r.PathValue("id"), req)
	s.writeFed(w, res, err, true)
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request, p access.Principal) {
	res, err := s.svc.Renew(r.Context(), p, r.PathValue("id"))
	s.writeFed(w, res, err, false)
}

func (s *Server) publishIndicator(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req IndicatorRequest
	if err := decodeBody(r, &req); err != nil {
		s.writeServiceError(w, err)
		return
	}
	res, err := s.svc.PublishIndicator(r.Context(), p, req)
	s.writeFed(w, res, err, true)
}

func (s *Server) corroborate(w http.ResponseWriter, r *http.Request, p access.Principal) {
	res, err := s.svc.Corroborate(r.Context(), p, r.PathValue("id"))
	s.writeFed(w, res, err, false)
}

func (s *Server) withdraw(w http.ResponseWriter, r *http.Request, p access.Principal) {
	res, err := s.svc.Withdraw(r.Context(), p, r.PathValue("id"))
	s.writeFed(w, res, err, false)
}

// consistency reads ?consistency=local|linearizable.
func consistency(w http.ResponseWriter, r *http.Request) (bool, bool) {
	switch c := r.URL.Query().Get("consistency"); c {
	case "", "local":
		return false, true
	case "linearizable":
		return true, true
	default:
		writeError(w, http.StatusBadRequest, "invalid_field", "consistency", fmt.Sprintf("%q: want local or linearizable", c), "")
		return false, false
	}
}

// watchlistStatuses are the statuses ?status= may name, "" for every entry: the state
// machine's own, so that a status it gains is listed here too.
var watchlistStatuses = []string{"", state.StatusNominated, state.StatusListed, state.StatusDisputed, state.StatusReviewDue,
	state.StatusAppealed, state.StatusDelisted, state.StatusRejected, state.StatusExpired}

func (s *Server) watchlist(w http.ResponseWriter, r *http.Request, p access.Principal) {
	lin, ok := consistency(w, r)
	if !ok {
		return
	}
	status := r.URL.Query().Get("status")
	valid := false
	for _, v := range watchlistStatuses {
		valid = valid || v == status
	}
	if !valid {
		writeError(w, http.StatusBadRequest, "invalid_field", "status", fmt.Sprintf("%q is not a status", status), "use "+strings.Join(watchlistStatuses[1:], ", "))
		return
	}
	es, idx, err := s.svc.Watchlist(r.Context(), p, status, lin)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": es, "index": idx, "linearizable": lin})
}

func (s *Server) watchlistEntry(w http.ResponseWriter, r *http.Request, p access.Principal) {
	lin, ok := consistency(w, r)
	if !ok {
		return
	}
	e, idx, err := s.svc.WatchlistEntry(r.Context(), p, r.PathValue("id"), lin)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entry": e, "index": idx, "linearizable": lin})
}

func (s *Server) indicators(w http.ResponseWriter, r *http.Request, p access.Principal) {
	lin, ok := consistency(w, r)
	if !ok {
		return
	}
	ins, idx, err := s.svc.Indicators(r.Context(), p, lin)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"indicators": ins, "index": idx, "linearizable": lin})
}

func (s *Server) federationMembers(w http.ResponseWriter, _ *http.Request, _ access.Principal) {
	ms, err := s.svc.FederationMembers()
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": ms})
}

func (s *Server) federationStatus(w http.ResponseWriter, _ *http.Request, _ access.Principal) {
	st, err := s.svc.FederationStatus()
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) rotateChair(w http.ResponseWriter, r *http.Request, p access.Principal) {
	to, err := s.svc.RotateChair(r.Context(), p)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"chair": to})
}

// maxForwarded bounds a forwarded command; commands are bounded well below it.
const maxForwarded = 1 << 20

func (s *Server) forward(w http.ResponseWriter, r *http.Request, _ access.Principal) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxForwarded+1))
	if err != nil || len(raw) > maxForwarded {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "body", "the forwarded command is too large", "")
		return
	}
	res, err := s.svc.AcceptForwarded(r.Context(), raw)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) readIndex(w http.ResponseWriter, r *http.Request, _ access.Principal) {
	idx, err := s.svc.LeaderReadIndex(r.Context())
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"index": idx})
}

// decodeBody decodes a request body strictly (see decodeSmall), with the node's limit.
func decodeBody(r *http.Request, v any) error { return decodeSmall(r, v) }

func (s *Server) proposeAdmission(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req AdmissionRequest
	if err := decodeBody(r, &req); err != nil {
		s.writeServiceError(w, err)
		return
	}
	res, err := s.svc.ProposeAdmission(r.Context(), p, req)
	s.writeFed(w, res, err, true)
}

func (s *Server) proposeRemoval(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req RemovalRequest
	if err := decodeBody(r, &req); err != nil {
		s.writeServiceError(w, err)
		return
	}
	res, err := s.svc.ProposeRemoval(r.Context(), p, req)
	s.writeFed(w, res, err, true)
}

func (s *Server) voteMembership(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req VoteRequest
	if err := decodeBody(r, &req); err != nil {
		s.writeServiceError(w, err)
		return
	}
	res, err := s.svc.VoteMembership(r.Context(), p, r.PathValue("id"), req)
	s.writeFed(w, res, err, false)
}

func (s *Server) proposals(w http.ResponseWriter, _ *http.Request, _ access.Principal) {
	ps, err := s.svc.Proposals()
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	if ps == nil {
		ps = []*state.Proposal{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"proposals": ps})
}

// PolicyProposalRequest proposes an amendment of the federation policy: the complete
// policy to put in force (the same JSON GET /v1/federation/policy returns) and a
// plain-language public summary of what changes and why.
type PolicyProposalRequest struct {
	ID      string          `json:"id,omitempty"`
	Policy  json.RawMessage `json:"policy"`
	Summary string          `json:"summary"`
}

// PolicyChange is one accepted amendment: from which log index and time the new policy is
// in force, who proposed it, its summary, how the voters voted, and the policy before and
// after.
type PolicyChange struct {
	Index    uint64        `json:"index"`
	Time     time.Time     `json:"time"`
	Proposal string        `json:"proposal"`
	Proposer string        `json:"proposer"`
	Summary  string        `json:"summary"`
	Votes    []VoteView    `json:"votes,omitempty"`
	Previous policy.Policy `json:"previous"`
	Policy   policy.Policy `json:"policy"`
}

// PolicyProposal is an amendment still in consultation.
type PolicyProposal struct {
	ID         string        `json:"id"`
	Proposer   string        `json:"proposer"`
	Summary    string        `json:"summary"`
	Opened     time.Time     `json:"opened"`
	WindowEnds time.Time     `json:"window_ends"`
	Votes      []VoteView    `json:"votes,omitempty"`
	Policy     policy.Policy `json:"policy"`
}

// PolicyView is the federation policy in force at Index, with every change that made it
// (oldest first; Since is the index of the latest, 0 while the genesis policy stands) and
// the amendments still open.
type PolicyView struct {
	Policy    policy.Policy    `json:"policy"`
	Since     uint64           `json:"since"`
	History   []PolicyChange   `json:"history"`
	Proposals []PolicyProposal `json:"proposals"`
	Index     uint64           `json:"index"`
}

func (s *Server) proposePolicy(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req PolicyProposalRequest
	if err := decodeBody(r, &req); err != nil {
		s.writeServiceError(w, err)
		return
	}
	res, err := s.svc.ProposePolicy(r.Context(), p, req)
	s.writeFed(w, res, err, true)
}

func (s *Server) federationPolicy(w http.ResponseWriter, r *http.Request, _ access.Principal) {
	lin, ok := consistency(w, r)
	if !ok {
		return
	}
	v, err := s.svc.PolicyInForce(r.Context(), lin)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
