// Package api is the node's HTTP API. Every response it writes, errors included, carries a
// detached JWS over its exact body bytes in X-JWS-Signature, so an integrator can prove
// offline which node said what. Every route but the public probes needs a bearer token,
// and the token's role decides what it may do.
//
// The package knows HTTP and nothing else: the node's behaviour comes through Service,
// which package node implements.
package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/audit"
	"github.com/entente/entente/node/records"
	"github.com/entente/entente/policy"
)

// SignatureHeader carries the detached JWS over the response body.
const SignatureHeader = "X-JWS-Signature"

// Service is what the API needs from the node.
type Service interface {
	// Signer signs responses; it changes when the signing key is rotated.
	Signer() *jws.Signer
	// KeySet is the JWKS: the current key and every retired one.
	KeySet() *jws.KeySet
	// Authenticate turns a bearer token into a principal.
	Authenticate(raw string) (access.Principal, error)
	// Ready reports whether the node can serve writes.
	Ready() error

	CreateRecord(p access.Principal, in *records.Input) (*RecordView, error)
	CorrectRecord(p access.Principal, id string, baseVersion int, in *records.Input) (*RecordView, error)
	GetRecord(p access.Principal, id string, version int) (*RecordView, error)
	GetSealedRecord(p access.Principal, id string, version int) (*records.Stored, error)
	RecordHistory(p access.Principal, id string) ([]*RecordView, error)
	ListRecords(p access.Principal, f records.Filter, cursor string, limit int) ([]*RecordView, string, error)

	AuditEntries(after uint64, limit int) ([]audit.Entry, error)
	VerifyAudit() (AuditStatus, error)

	IssueToken(p access.Principal, req TokenRequest) (string, access.Token, error)
	RevokeToken(p access.Principal, id, rationale string) (access.Token, error)
	Tokens() ([]access.Token, error)
	RotateKeys(p access.Principal, rationale string) (oldKID, newKID string, err error)

	FederationService
	ScreeningService
	AlertService
	ExportService
	WebhookService
}

// FieldView is one record field as a caller sees it: opened where the caller's role may
// read its marking, otherwise shown as sealed with its marking, never as an empty value.
type FieldView struct {
	Marking string          `json:"marking"`
	Value   json.RawMessage `json:"value,omitempty"`
	Sealed  bool            `json:"sealed,omitempty"`
}

// RecordView is a national record with its fields opened for the caller.
type RecordView struct {
	ID        string               `json:"id"`
	Kind      string               `json:"kind"`
	Version   int                  `json:"version"`
	Created   time.Time            `json:"created"`
	Actor     string               `json:"actor"`
	Rationale string               `json:"rationale,omitempty"`
	Fields    map[string]FieldView `json:"fields"`
	AuditSeq  uint64               `json:"audit_seq,omitempty"`
}

// AuditStatus is the result of checking the whole audit chain.
type AuditStatus struct {
	OK      bool   `json:"ok"`
	Entries uint64 `json:"entries"`
	Head    string `json:"head,omitempty"`
	HeadSeq uint64 `json:"head_seq,omitempty"`
	Problem string `json:"problem,omitempty"`
	BadSeq  uint64 `json:"bad_seq,omitempty"`
}

// TokenRequest asks the node to issue a client token.
type TokenRequest struct {
	Subject   string `json:"subject"`
	Role      string `json:"role"`
	TTL       string `json:"ttl"`
	Rationale string `json:"rationale,omitempty"`
}

// TokenResponse carries a newly issued token; it is shown once and never stored.
type TokenResponse struct {
	Token string       `json:"token"`
	Info  access.Token `json:"info"`
}

// route is one API endpoint. An empty action marks a public route.
type route struct {
	pattern string
	action  policy.Action
	summary string
	handle  func(*Server, http.ResponseWriter, *http.Request, access.Principal)
}

// Server is the node's HTTP handler.
type Server struct {
	svc     Service
	log     *slog.Logger
	maxBody int64
	sem     chan struct{}
	mux     *http.ServeMux
	metrics *metrics
	admin   bool
	taxii   http.Handler
	limiter *rateLimiter // nil: no per-token limit
	now     func() time.Time
}

// Options configure a Server.
type Options struct {
	MaxBodyBytes  int64
	MaxConcurrent int
	// Registry receives the API's metrics; nil means a private registry.
	Registry *prometheus.Registry
	// Admin marks the operator's local socket: every request is the operator.
	Admin bool
	// TAXII, when set, serves /taxii2/ behind the node's token check and signing; it
	// finds the caller with PrincipalFrom.
	TAXII http.Handler
	// RateLimit is each client token's average requests per second and RateBurst how
	// many it may make at once; beyond that it gets 429 with Retry-After. RateLimit 0
	// means no limit. The admin socket is never limited.
	RateLimit float64
	RateBurst int
}

// New builds the handler for svc.
func New(svc Service, log *slog.Logger, o Options) *Server {
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 512
	}
	s := &Server{
		svc: svc, log: log, maxBody: o.MaxBodyBytes, admin: o.Admin, taxii: o.TAXII,
		sem: make(chan struct{}, o.MaxConcurrent), mux: http.NewServeMux(), now: time.Now,
	}
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(reg)
	if !o.Admin {
		s.limiter = newRateLimiter(o.RateLimit, o.RateBurst, reg)
	}
	for _, rt := range routes() {
		s.mux.Handle(rt.pattern, s.handlerFor(rt))
	}
	s.mux.Handle("/", s.wrap(route{pattern: "/", handle: func(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) {
		writeError(w, http.StatusNotFound, "not_found", "", "no such endpoint: "+r.Method+" "+r.URL.Path, "see /openapi.json for the API")
	}}))
	if !o.Admin {
		s.mux.Handle("GET /metrics", s.wrap(route{pattern: "GET /metrics", handle: s.serveMetrics(reg)}))
	}
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Routes lists every documented endpoint as "METHOD /path", sorted.
func Routes() []string {
	var out []string
	for _, rt := range routes() {
		out = append(out, rt.pattern)
	}
	out = append(out, "GET /metrics")
	sort.Strings(out)
	return out
}

func routes() []route {
	return []route{
		{"GET /healthz", "", "Liveness: the process answers.", (*Server).healthz},
		{"GET /readyz", "", "Readiness: the node can serve writes.", (*Server).readyz},
		{"GET /.well-known/jwks.json", "", "The node's signing keys, current and retired.", (*Server).jwks},
		{"GET /openapi.json", "", "This API's OpenAPI 3.1 document.", (*Server).openapi},
		{"GET /v1/whoami", policy.Action(""), "The caller's token as the node sees it.", (*Server).whoami},
		{"POST /v1/records", policy.ActRecordWrite, "Create a national record.", (*Server).createRecord},
		{"GET /v1/records", policy.ActRecordRead, "List national records (latest versions).", (*Server).listRecords},
		{"GET /v1/records/{id}", policy.ActRecordRead, "One national record, opened for the caller.", (*Server).getRecord},
		{"PUT /v1/records/{id}", policy.ActRecordWrite, "Correct a record: a new version, history kept.", (*Server).correctRecord},
		{"GET /v1/records/{id}/history", policy.ActRecordRead, "Every version of a record.", (*Server).recordHistory},
		{"GET /v1/audit", policy.ActAuditRead, "The hash-chained audit trail.", (*Server).auditList},
		{"GET /v1/audit/verify", policy.ActAuditRead, "Check the whole audit chain.", (*Server).auditVerify},
		{"POST /v1/tokens", policy.ActTokenAdmin, "Issue a client token.", (*Server).issueToken},
		{"GET /v1/tokens", policy.ActTokenAdmin, "Tokens this node issued.", (*Server).listTokens},
		{"POST /v1/tokens/{id}/revoke", policy.ActTokenAdmin, "Revoke a token at once.", (*Server).revokeToken},
		{"POST /v1/keys/rotate", policy.ActTokenAdmin, "Rotate the response-signing key.", (*Server).rotateKeys},
		{"POST /v1/watchlist/nominations", policy.ActWatchlistPropose, "Nominate a party for the consensus watchlist.", (*Server).nominate},
		{"GET /v1/watchlist", policy.ActWatchlistRead, "The consensus watchlist.", (*Server).watchlist},
		{"GET /v1/watchlist/{id}", policy.ActWatchlistRead, "One watchlist entry with its votes.", (*Server).watchlistEntry},
		{"POST /v1/watchlist/{id}/votes", policy.ActWatchlistVote, "Endorse or object; or decide an appeal.", (*Server).vote},
		{"POST /v1/watchlist/{id}/appeals", policy.ActWatchlistVote, "Appeal a listing.", (*Server).appeal},
		{"POST /v1/watchlist/{id}/renewals", policy.ActWatchlistPropose, "Renew this state's listing.", (*Server).renew},
		{"POST /v1/indicators", policy.ActWatchlistPropose, "Publish a risk indicator.", (*Server).publishIndicator},
		{"GET /v1/indicators", policy.ActWatchlistRead, "The risk indicators.", (*Server).indicators},
		{"POST /v1/indicators/{id}/corroborations", policy.ActWatchlistPropose, "Corroborate another state's indicator.", (*Server).corroborate},
		{"POST /v1/indicators/{id}/withdrawal", policy.ActWatchlistPropose, "Withdraw this state's indicator.", (*Server).withdraw},
		{"GET /v1/federation/members", policy.ActFederationRead, "The roster: liveness and raft roles.", (*Server).federationMembers},
		{"GET /v1/federation/status", policy.ActFederationRead, "This node's view of the federation.", (*Server).federationStatus},
		{"POST /v1/federation/rotate-chair", policy.ActFederationAdmin, "Hand the chair to the next voter now.", (*Server).rotateChair},
		{"POST /v1/federation/forward", actPeer, "Leader only: apply a command a member's node forwarded (mutual TLS).", (*Server).forward},
		{"POST /v1/federation/read-index", actPeer, "Leader only: the index for a linearizable read (mutual TLS).", (*Server).readIndex},
		{"POST /v1/federation/admissions", policy.ActMembership, "Propose to admit a state (its member card).", (*Server).proposeAdmission},
		{"POST /v1/federation/removals", policy.ActMembership, "Propose to remove a state.", (*Server).proposeRemoval},
		{"GET /v1/federation/proposals", policy.ActFederationRead, "Membership proposals and how they were decided.", (*Server).proposals},
		{"POST /v1/federation/proposals/{id}/votes", policy.ActMembership, "Endorse or object to a membership proposal or policy amendment (voters).", (*Server).voteMembership},
		{"POST /v1/federation/policy-proposals", policy.ActMembership, "Propose an amendment of the federation policy: the complete policy and a plain-language summary.", (*Server).proposePolicy},
		{"GET /v1/federation/policy", policy.ActFederationRead, "The federation policy in force, its change history with summaries, and open amendments.", (*Server).federationPolicy},
		{"GET /v1/federation/peer-status", actPeer, "This node's raft role and applied index, for other members (mutual TLS).", (*Server).federationStatus},
		{"PUT /v1/lists/{name}", policy.ActListImport, "Import a screening list (NDJSON); the last good version serves until it succeeds.", (*Server).importList},
		{"GET /v1/lists", policy.ActListRead, "The screening lists: versions, counts, import times, imports in progress.", (*Server).screeningLists},
		{"POST /v1/screen", policy.ActScreen, "Screen one party against every list; audited.", (*Server).screen},
		{"POST /v1/screen/batch", policy.ActScreen, "Screen many parties (NDJSON or CSV); results stream back line by line.", (*Server).screenBatch},
		{"POST /v1/risk/assess", policy.ActScreen, "Score a licence application with the shared risk model.", (*Server).assessRisk},
		{"GET /v1/watchlist/export", policy.ActWatchlistRead, "The consensus watchlist as a file: format=ftm (FollowTheMoney JSON lines), csv or stix (a STIX 2.1 bundle).", (*Server).watchlistExport},
		{"GET /taxii2/", policy.ActWatchlistRead, "A read-only TAXII 2.1 server: discovery, API root, the watchlist collection, objects and manifest.", (*Server).serveTAXII},
		{"GET /v1/alerts", policy.ActAlertRead, "The alert feed: ordered, gapless, resumable from any cursor, each federation alert with its originator's signature.", (*Server).alerts},
		{"GET /v1/alerts/stream", policy.ActAlertRead, "The alert feed as Server-Sent Events, each event signed; resumes from Last-Event-ID.", (*Server).alertStream},
		{"POST /v1/webhooks", policy.ActAlertRead, "Register a webhook: URL, alert kinds, secret. Deliveries are signed, retried and kept in a durable outbox.", (*Server).registerWebhook},
		{"GET /v1/webhooks", policy.ActAlertRead, "The caller's webhooks (secrets are never returned).", (*Server).listWebhooks},
		{"DELETE /v1/webhooks/{id}", policy.ActAlertRead, "Delete one of the caller's webhooks.", (*Server).deleteWebhook},
		{"GET /v1/webhooks/{id}/deliveries", policy.ActAlertRead, "A webhook's deliveries, newest first, with every attempt; state=dead for the dead-letter list.", (*Server).webhookDeliveries},
		{"POST /v1/webhooks/deliveries/{id}/replay", policy.ActAlertRead, "Send a dead-lettered delivery again, under the same delivery id.", (*Server).replayDelivery},
		{"GET /v1/alerts/local", policy.ActLocalAlertRead, "Local alerts: pending national records that now match a listed party.", (*Server).localAlerts},
	}
}

// authenticated marks routes that need a token but no particular action.
func authenticated(rt route) bool {
	return rt.action != "" || rt.pattern == "GET /v1/whoami"
}
