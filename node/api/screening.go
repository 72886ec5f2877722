package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/risk"
	"github.com/entente/entente/node/screening"
)

// ScreeningService is what the screening routes need from the node.
type ScreeningService interface {
	// ImportList replaces the imported list name with the NDJSON body (a header line,
	// then one entity per line), or does nothing when that version already serves.
	ImportList(p access.Principal, name string, body io.Reader) (*ImportResponse, error)
	// ScreeningLists describes the lists the node screens against.
	ScreeningLists(p access.Principal) (*ListsResponse, error)
	// Screen screens one party against every list (or those it names), and audits it.
	Screen(p access.Principal, req screening.Request) (*ScreenResponse, error)
	// ScreenBatch screens each item of b, handing each result to emit as it is ready, and
	// audits the batch once. It stops early when emit fails.
	ScreenBatch(p access.Principal, b *screening.Batch, emit func(BatchLine) error) (*BatchSummary, error)
	// AssessRisk screens an application's parties, gathers the federation's indicators and
	// scores the application with the shared risk model.
	AssessRisk(ctx context.Context, p access.Principal, req RiskRequest) (*RiskResponse, error)
	// LocalAlerts lists the alerts re-screening raised, newest first, below seq before
	// (0: from the newest).
	LocalAlerts(p access.Principal, before uint64, limit int) (*LocalAlertsResponse, error)
}

// Body limits of the screening routes. An import carries a whole list (a million names
// is a few hundred megabytes of NDJSON); a batch a case file of up to
// screening.MaxBatchLines parties. Every other route keeps the node's max_body_bytes.
const (
	MaxImportBytes = 512 << 20
	maxScreenBody  = 256 << 10
)

// routeBodyLimits are the routes whose body limit is not the node's default.
var routeBodyLimits = map[string]int64{
	"PUT /v1/lists/{name}":  MaxImportBytes,
	"POST /v1/screen/batch": screening.MaxBatchBytes,
}

// streamingRoutes answer in NDJSON, line by line, with the signature in a trailer.
var streamingRoutes = map[string]bool{"POST /v1/screen/batch": true, "GET /v1/alerts/stream": true}

// routeSlots are routes that hold a connection open for long: they count against their
// own cap rather than the node's max_concurrent, so subscribers never starve requests.
var routeSlots = map[string]int{"GET /v1/alerts/stream": 1024}

// handlerFor is wrap with the route's own body limit; the routes with a large body or a
// streamed answer also get the connection's ResponseWriter in their request context, to
// extend the server's deadlines and to stream. Every route keeps every other part of
// wrap: the concurrency limit, authentication, authorisation, signing and metrics.
func (s *Server) handlerFor(rt route) http.Handler {
	srv := s
	if limit, ok := routeBodyLimits[rt.pattern]; ok && limit > s.maxBody {
		c := *s // shares the semaphore, mux, metrics and service
		c.maxBody = limit
		srv = &c
	}
	if n, ok := routeSlots[rt.pattern]; ok {
		c := *srv
		c.sem = make(chan struct{}, n)
		srv = &c
	}
	h := srv.wrap(rt)
	if _, long := routeBodyLimits[rt.pattern]; !long && !streamingRoutes[rt.pattern] {
		return h
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		slot := &streamSlot{rw: rw}
		h.ServeHTTP(streamGuard{slot}, r.WithContext(context.WithValue(r.Context(), streamKey{}, slot)))
	})
}

// connController is the controller of the request's connection on the routes that
// handlerFor gives one (the long and the streaming ones), for their deadlines; nil
// elsewhere.
func connController(r *http.Request) *http.ResponseController {
	slot, _ := r.Context().Value(streamKey{}).(*streamSlot)
	if slot == nil {
		return nil
	}
	return http.NewResponseController(slot.rw)
}

// streamSlot lets a streaming handler take the connection's ResponseWriter from under
// wrap's buffering writer. Once taken, whatever wrap writes afterwards (the buffered
// body, which is empty, and its headers) is discarded, since the handler has already
// sent the response and its signature.
type streamSlot struct {
	rw      http.ResponseWriter
	taken   bool
	scratch http.Header
}

type streamKey struct{}

// streamGuard is the ResponseWriter wrap sees on a streaming route.
type streamGuard struct{ slot *streamSlot }

func (g streamGuard) Header() http.Header {
	if g.slot.taken {
		return g.slot.scratch
	}
	return g.slot.rw.Header()
}

func (g streamGuard) WriteHeader(code int) {
	if !g.slot.taken {
		g.slot.rw.WriteHeader(code)
	}
}

func (g streamGuard) Write(b []byte) (int, error) {
	if g.slot.taken {
		return len(b), nil
	}
	return g.slot.rw.Write(b)
}

// maxStreamBytes bounds a streamed response: the node keeps a copy of what it sent to
// sign it at the end (Ed25519 signs the whole message), so the copy is bounded like any
// buffered response. streamTail is kept free for the closing lines.
const (
	maxStreamBytes = maxResponseBytes
	streamTail     = 64 << 10
)

// errStreamFull means a streamed response reached maxStreamBytes.
var errStreamFull = errors.New("api: the streamed response reached the size the node signs")

// ndjsonStream writes NDJSON lines as they are ready, flushing each, and signs the exact
// bytes sent in the X-JWS-Signature trailer.
type ndjsonStream struct {
	rw   http.ResponseWriter
	rc   *http.ResponseController
	sign func([]byte) (string, error)
	sent bytes.Buffer
	size int
	// fallback is wrap's buffered writer, used when the route was not set up to stream
	// (it then signs the whole body in the header as every other route).
	fallback http.ResponseWriter
}

func (s *Server) startStream(w http.ResponseWriter, r *http.Request) *ndjsonStream {
	slot, _ := r.Context().Value(streamKey{}).(*streamSlot)
	if slot == nil {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		return &ndjsonStream{fallback: w}
	}
	// wrap's writer records the status for the metrics; the body goes around it.
	w.WriteHeader(http.StatusOK)
	slot.taken, slot.scratch = true, http.Header{}
	h := slot.rw.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Trailer", SignatureHeader)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	slot.rw.WriteHeader(http.StatusOK)
	return &ndjsonStream{rw: slot.rw, rc: http.NewResponseController(slot.rw), sign: s.svc.Signer().Detached}
}

// line sends v as one line. Unless final, it refuses (errStreamFull) a line that would
// leave less than streamTail for the closing lines.
func (st *ndjsonStream) line(v any, final bool) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if !final && st.size+len(b) > maxStreamBytes-streamTail {
		return errStreamFull
	}
	st.size += len(b)
	if st.fallback != nil {
		_, err := st.fallback.Write(b)
		return err
	}
	st.sent.Write(b)
	// A long batch outlives the server's write timeout; each line buys another minute.
	_ = st.rc.SetWriteDeadline(time.Now().Add(time.Minute))
	if _, err := st.rw.Write(b); err != nil {
		return err
	}
	return st.rc.Flush()
}

// end signs what was sent and sets the trailer.
func (st *ndjsonStream) end() error {
	if st.fallback != nil {
		return nil
	}
	sig, err := st.sign(st.sent.Bytes())
	if err != nil {
		return err
	}
	st.rw.Header().Set(SignatureHeader, sig)
	return nil
}

// screeningError maps the screening layer's errors to responses; others go on to
// writeServiceError.
func (s *Server) writeScreeningError(w http.ResponseWriter, err error) {
	var fe *screening.FieldError
	var le *screening.LineError
	var ie *risk.InputError
	switch {
	case errors.As(err, &le):
		field := fmt.Sprintf("line %d", le.Line)
		if le.Field != "" {
			field += ": " + le.Field
		}
		writeError(w, http.StatusBadRequest, "invalid_line", field, le.Error(), "correct the line and import again; the last good version of the list keeps serving")
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, "invalid_field", fe.Field, fe.Reason, "correct the field and send the request again")
	case errors.As(err, &ie):
		writeError(w, http.StatusBadRequest, "invalid_field", ie.Field, ie.Msg, "correct the field and send the request again (docs/risk.md describes the input)")
	case errors.Is(err, screening.ErrImportInProgress):
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusConflict, "import_in_progress", "name", "an import of this list is already running", "wait for it to finish (GET /v1/lists shows it) and retry")
	case errors.Is(err, screening.ErrVersionConflict):
		writeError(w, http.StatusConflict, "version_conflict", "version", "this version of the list is already imported with different content", "give the new content a new version (lists.Parse derives one from the content)")
	case errors.Is(err, screening.ErrNoLists):
		writeError(w, http.StatusServiceUnavailable, "no_lists", "", "this node holds no screening list yet: screening now would find nothing", "import a list (entente import) or join a federation for the consensus watchlist")
	default:
		s.writeServiceError(w, err)
	}
}

// decodeScreenBody decodes a JSON request body of at most max bytes strictly.
func decodeScreenBody(r *http.Request, v any, max int64) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return &Error{Status: http.StatusBadRequest, Code: "bad_body", Field: "body", Msg: "the body could not be read", Err: err}
	}
	if int64(len(b)) > max {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Field: "body", Msg: fmt.Sprintf("the body is larger than %d bytes", max), Hint: "send a smaller body; screen many parties with POST /v1/screen/batch"}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "body", Msg: "the body is empty", Hint: "see /openapi.json for the request's shape"}
	}
	if fe := screening.DecodeStrict(b, v); fe != nil {
		if fe.Field == "" {
			fe.Field = "body"
		}
		return &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: fe.Field, Msg: "the body is not the expected JSON object: " + fe.Reason, Hint: "see /openapi.json for the request's shape"}
	}
	return nil
}

// ListView describes one screening list.
type ListView struct {
	Name    string `json:"name"`
	Format  string `json:"format,omitempty"`
	Version string `json:"version,omitempty"`
	// Count is the number of entities.
	Count      int               `json:"count"`
	Counts     *screening.Counts `json:"counts,omitempty"`
	ImportedAt *time.Time        `json:"imported_at,omitempty"`
	// Importing is set while a new version is being imported; the version shown keeps
	// serving until the import succeeds.
	Importing     bool       `json:"importing"`
	ImportStarted *time.Time `json:"import_started,omitempty"`
}

// ConsensusView describes the consensus list: built from the federation's watchlist
// entries that are listed, review-due or appealed, with the party fields this node may
// open.
type ConsensusView struct {
	Available bool   `json:"available"`
	Version   string `json:"version,omitempty"`
	Count     int    `json:"count"`
	// AppliedIndex is the federation log index the list was last checked at.
	AppliedIndex uint64     `json:"applied_index,omitempty"`
	BuiltAt      *time.Time `json:"built_at,omitempty"`
	// Sealed counts entries whose party this node may not open; they are not screened.
	Sealed int    `json:"sealed,omitempty"`
	Note   string `json:"note,omitempty"`
}

// ListsResponse is GET /v1/lists.
type ListsResponse struct {
	Lists     []ListView    `json:"lists"`
	Consensus ConsensusView `json:"consensus"`
}

// RescreenView says what re-screening did after a list changed.
type RescreenView struct {
	Records int `json:"records"`
	Parties int `json:"parties"`
	Hits    int `json:"hits"`
	Alerts  int `json:"alerts"`
}

// ImportResponse is the answer to PUT /v1/lists/{name}.
type ImportResponse struct {
	List      ListView `json:"list"`
	Created   bool     `json:"created"`
	Unchanged bool     `json:"unchanged"`
	Previous  string   `json:"previous_version,omitempty"`
	// Rescreen is present when the list changed and pending records were re-screened.
	Rescreen *RescreenView `json:"rescreen,omitempty"`
	AuditSeq uint64        `json:"audit_seq,omitempty"`
}

// ScreenResponse is the answer to POST /v1/screen.
type ScreenResponse struct {
	Hits     []screening.HitView `json:"hits"`
	Lists    []screening.ListRef `json:"lists"`
	AuditSeq uint64              `json:"audit_seq"`
}

// BatchLine is one result of a batch: the line's hits, or what was wrong with it.
type BatchLine struct {
	Line  int
	Hits  []screening.HitView
	Error *ErrorDetail
}

// MarshalJSON writes {"line":N,"hits":[...]} or {"line":N,"error":{...}}.
func (l BatchLine) MarshalJSON() ([]byte, error) {
	if l.Error != nil {
		return json.Marshal(struct {
			Line  int          `json:"line"`
			Error *ErrorDetail `json:"error"`
		}{l.Line, l.Error})
	}
	hits := l.Hits
	if hits == nil {
		hits = []screening.HitView{}
	}
	return json.Marshal(struct {
		Line int                 `json:"line"`
		Hits []screening.HitView `json:"hits"`
	}{l.Line, hits})
}

// BatchSummary closes a batch's stream: what was screened, against which list
// versions, and the audit entry that records it.
type BatchSummary struct {
	Format   string              `json:"format"`
	Lines    int                 `json:"lines"`
	Screened int                 `json:"screened"`
	Errors   int                 `json:"errors"`
	WithHits int                 `json:"with_hits"`
	Hits     int                 `json:"hits"`
	Lists    []screening.ListRef `json:"lists"`
	// Complete is false when the batch stopped early (the response grew too large, or
	// the client went away); Lines says how far it got.
	Complete bool   `json:"complete"`
	AuditSeq uint64 `json:"audit_seq"`
}

// RiskRequest is a licence application to assess (POST /v1/risk/assess). Countries may
// be alpha-2 or alpha-3 codes.
type RiskRequest struct {
	ControlCodes []string     `json:"control_codes"`
	Destination  string       `json:"destination"`
	Value        float64      `json:"value,omitempty"`
	Transit      []string     `json:"transit,omitempty"`
	Parties      []risk.Party `json:"parties,omitempty"`
}

// RiskResponse is the assessment with what went into it: the parties' screening hits,
// the list versions they were screened against, and how many federation indicators the
// node could open and hand to the model.
type RiskResponse struct {
	risk.Assessment
	At         time.Time           `json:"at"`
	Hits       []risk.Hit          `json:"hits"`
	Lists      []screening.ListRef `json:"lists"`
	Indicators int                 `json:"indicators"`
	Warnings   []string            `json:"warnings,omitempty"`
	AuditSeq   uint64              `json:"audit_seq"`
}

// LocalAlertView is a local alert with the party's name opened from the record, when the
// caller may read it and the record can still be opened.
type LocalAlertView struct {
	screening.Alert
	PartyName   string `json:"party_name,omitempty"`
	PartySealed bool   `json:"party_sealed,omitempty"`
}

// LocalAlertsResponse is a page of local alerts, newest first.
type LocalAlertsResponse struct {
	Alerts []LocalAlertView `json:"alerts"`
	// NextBefore is the before= of the next (older) page, "" at the end.
	NextBefore string `json:"next_before"`
}

func (s *Server) importList(w http.ResponseWriter, r *http.Request, p access.Principal) {
	// A list of hundreds of megabytes, indexed and stored, and the re-screening after it,
	// outlive the server's read and write timeouts. w is wrap's buffering writer, which
	// does not reach the connection; handlerFor passes the connection's along.
	if rc := connController(r); rc != nil {
		_ = rc.SetReadDeadline(time.Now().Add(15 * time.Minute))
		_ = rc.SetWriteDeadline(time.Now().Add(15 * time.Minute))
	}
	res, err := s.svc.ImportList(p, r.PathValue("name"), r.Body)
	if err != nil {
		s.writeScreeningError(w, err)
		return
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	writeJSON(w, status, res)
}

func (s *Server) screeningLists(w http.ResponseWriter, _ *http.Request, p access.Principal) {
	res, err := s.svc.ScreeningLists(p)
	if err != nil {
		s.writeScreeningError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) screen(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req screening.Request
	if err := decodeScreenBody(r, &req, maxScreenBody); err != nil {
		s.writeServiceError(w, err)
		return
	}
	res, err := s.svc.Screen(p, req)
	if err != nil {
		s.writeScreeningError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// batchDefaults reads the query parameters that apply to every line of a batch.
func batchDefaults(r *http.Request) (screening.Request, error) {
	var d screening.Request
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "threshold", "limit", "lists":
		default:
			return d, &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: k, Msg: "unknown query parameter", Hint: "use threshold, limit or lists"}
		}
	}
	if v := q.Get("threshold"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 1 {
			return d, &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "threshold", Msg: fmt.Sprintf("%q is not a score in (0,1]", v)}
		}
		d.Threshold = f
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return d, &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "limit", Msg: fmt.Sprintf("%q is not a whole number from 1 to 100", v)}
		}
		d.Limit = n
	}
	if v := q.Get("lists"); v != "" {
		d.Lists = strings.Split(v, ",")
	}
	return d, nil
}

func (s *Server) screenBatch(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if rc := connController(r); rc != nil {
		_ = rc.SetReadDeadline(time.Now().Add(5 * time.Minute)) // up to MaxBatchBytes of body
	}
	defaults, err := batchDefaults(r)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	b, err := screening.NewBatch(body, r.Header.Get("Content-Type"), defaults)
	if err != nil {
		s.writeScreeningError(w, err)
		return
	}
	var st *ndjsonStream
	full := 0
	sum, err := s.svc.ScreenBatch(p, b, func(l BatchLine) error {
		if st == nil {
			st = s.startStream(w, r)
		}
		err := st.line(l, false)
		if errors.Is(err, errStreamFull) {
			full = l.Line
		}
		return err
	})
	if err != nil && st == nil {
		s.writeScreeningError(w, err)
		return
	}
	if st == nil {
		st = s.startStream(w, r)
	}
	if full != 0 {
		_ = st.line(BatchLine{Line: full, Error: &ErrorDetail{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Field: "body",
			Message: fmt.Sprintf("the results reached %d bytes, the most the node signs in one response; line %d and the lines after it were not screened", maxStreamBytes-streamTail, full),
			Hint:    "split the batch and send the rest again"}}, true)
	}
	if err != nil && full == 0 {
		s.log.Warn("batch screening stopped", "err", err)
	}
	if sum != nil {
		_ = st.line(map[string]*BatchSummary{"summary": sum}, true)
	}
	if err := st.end(); err != nil {
		s.log.Error("signing a streamed response failed", "err", err)
	}
}

func (s *Server) assessRisk(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req RiskRequest
	if err := decodeScreenBody(r, &req, maxScreenBody); err != nil {
		s.writeServiceError(w, err)
		return
	}
	res, err := s.svc.AssessRisk(r.Context(), p, req)
	if err != nil {
		s.writeScreeningError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) localAlerts(w http.ResponseWriter, r *http.Request, p access.Principal) {
	q := r.URL.Query()
	for k := range q {
		if k != "before" && k != "limit" {
			writeError(w, http.StatusBadRequest, "invalid_field", k, "unknown query parameter", "use before or limit")
			return
		}
	}
	var before uint64
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			writeError(w, http.StatusBadRequest, "invalid_field", "before", fmt.Sprintf("%q is not an alert seq", v), "use next_before from the previous page, or omit it for the newest")
			return
		}
		before = n
	}
	limit, ok := intParam(w, q.Get("limit"), "limit", 1, 1000)
	if !ok {
		return
	}
	if limit == 0 {
		limit = 100
	}
	res, err := s.svc.LocalAlerts(p, before, limit)
	if err != nil {
		s.writeScreeningError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
