package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/records"
)

//go:embed openapi.json
var openapiDoc []byte

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ access.Principal) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request, _ access.Principal) {
	if err := s.svc.Ready(); err != nil {
		writeError(w, http.StatusServiceUnavailable, "not_ready", "", err.Error(), "wait for the node to finish starting, or read its log")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) jwks(w http.ResponseWriter, _ *http.Request, _ access.Principal) {
	b, err := s.svc.KeySet().MarshalJSON()
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(b)
}

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request, _ access.Principal) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openapiDoc)
}

func (s *Server) serveMetrics(reg *prometheus.Registry) func(*Server, http.ResponseWriter, *http.Request, access.Principal) {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return func(_ *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) {
		// The signed writer must see the plain body, so ask for no compression.
		r.Header.Del("Accept-Encoding")
		h.ServeHTTP(w, r)
	}
}

func (s *Server) whoami(w http.ResponseWriter, _ *http.Request, p access.Principal) {
	writeJSON(w, http.StatusOK, p)
}

// readBody reads the whole (already size-limited) body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, &Error{Status: http.StatusBadRequest, Code: "bad_body", Field: "body", Msg: "the body could not be read", Hint: "send the whole body", Err: err}
	}
	return b, nil
}

func (s *Server) createRecord(w http.ResponseWriter, r *http.Request, p access.Principal) {
	body, err := readBody(r)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	in, err := records.Decode(body)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	v, err := s.svc.CreateRecord(p, in)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	w.Header().Set("Location", "/v1/records/"+v.ID)
	w.Header().Set("ETag", etag(v.Version))
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) correctRecord(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id := r.PathValue("id")
	match := r.Header.Get("If-Match")
	if match == "" {
		writeError(w, http.StatusPreconditionRequired, "if_match_required", "If-Match", "a correction must name the version it corrects", `send If-Match with the record's ETag, for example If-Match: "v1"`)
		return
	}
	base, ok := parseETag(match)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_field", "If-Match", fmt.Sprintf("%q is not a record ETag", match), `use the ETag from GET /v1/records/{id}, for example "v1"`)
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	in, err := records.Decode(body)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	if in.ID != "" && in.ID != id {
		writeError(w, http.StatusBadRequest, "invalid_field", "id", fmt.Sprintf("the body's id %q differs from the path's %q", in.ID, id), "omit id from the body or make it match the path")
		return
	}
	in.ID = id
	v, err := s.svc.CorrectRecord(p, id, base, in)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	w.Header().Set("ETag", etag(v.Version))
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) getRecord(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id := r.PathValue("id")
	q := r.URL.Query()
	version := 0
	if vs := q.Get("version"); vs != "" {
		n, err := strconv.Atoi(vs)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "invalid_field", "version", fmt.Sprintf("%q is not a version number", vs), "use a positive integer, or omit it for the latest")
			return
		}
		version = n
	}
	switch view := q.Get("view"); view {
	case "", "opened":
		v, err := s.svc.GetRecord(p, id, version)
		if err != nil {
			s.writeServiceError(w, err)
			return
		}
		w.Header().Set("ETag", etag(v.Version))
		writeJSON(w, http.StatusOK, v)
	case "sealed":
		st, err := s.svc.GetSealedRecord(p, id, version)
		if err != nil {
			s.writeServiceError(w, err)
			return
		}
		w.Header().Set("ETag", etag(st.Version))
		writeJSON(w, http.StatusOK, st)
	default:
		writeError(w, http.StatusBadRequest, "invalid_field", "view", fmt.Sprintf("unknown view %q", view), "use view=opened (default) or view=sealed")
	}
}

func (s *Server) recordHistory(w http.ResponseWriter, r *http.Request, p access.Principal) {
	vs, err := s.svc.RecordHistory(p, r.PathValue("id"))
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": vs})
}

func (s *Server) listRecords(w http.ResponseWriter, r *http.Request, p access.Principal) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "kind", "actor", "since", "until", "cursor", "limit":
		default:
			writeError(w, http.StatusBadRequest, "invalid_field", k, "unknown query parameter", "use kind, actor, since, until, cursor or limit")
			return
		}
	}
	f := records.Filter{Kind: q.Get("kind"), Actor: q.Get("actor")}
	for _, tp := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(tp.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, "invalid_field", tp.name, fmt.Sprintf("%q is not an RFC 3339 time", v), "for example 2026-11-21T00:00:00Z")
				return
			}
			*tp.dst = t
		}
	}
	limit, ok := intParam(w, q.Get("limit"), "limit", 1, 1000)
	if !ok {
		return
	}
	page, next, err := s.svc.ListRecords(p, f, q.Get("cursor"), limit)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	if page == nil {
		page = []*RecordView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": page, "next_cursor": next})
}

func (s *Server) auditList(w http.ResponseWriter, r *http.Request, _ access.Principal) {
	q := r.URL.Query()
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_field", "after", fmt.Sprintf("%q is not a sequence number", v), "use the seq of the last entry you have, or omit it")
			return
		}
		after = n
	}
	limit, ok := intParam(w, q.Get("limit"), "limit", 1, 1000)
	if !ok {
		return
	}
	if limit == 0 {
		limit = 100
	}
	es, err := s.svc.AuditEntries(after, limit)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	next := ""
	if len(es) == limit {
		next = strconv.FormatUint(es[len(es)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": es, "next_after": next})
}

func (s *Server) auditVerify(w http.ResponseWriter, _ *http.Request, _ access.Principal) {
	st, err := s.svc.VerifyAudit()
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req TokenRequest
	if err := decodeSmall(r, &req); err != nil {
		s.writeServiceError(w, err)
		return
	}
	tok, info, err := s.svc.IssueToken(p, req)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, TokenResponse{Token: tok, Info: info})
}

func (s *Server) listTokens(w http.ResponseWriter, _ *http.Request, _ access.Principal) {
	ts, err := s.svc.Tokens()
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	if ts == nil {
		ts = []access.Token{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ts})
}

// RevokeRequest carries the reason for a revocation, kept in the audit trail.
type RevokeRequest struct {
	Rationale string `json:"rationale"`
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req RevokeRequest
	if err := decodeSmall(r, &req); err != nil {
		s.writeServiceError(w, err)
		return
	}
	t, err := s.svc.RevokeToken(p, r.PathValue("id"), req.Rationale)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) rotateKeys(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req RevokeRequest
	if err := decodeSmall(r, &req); err != nil {
		s.writeServiceError(w, err)
		return
	}
	oldKID, newKID, err := s.svc.RotateKeys(p, req.Rationale)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"retired_kid": oldKID, "current_kid": newKID})
}

func etag(version int) string { return `"v` + strconv.Itoa(version) + `"` }

func parseETag(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, `"v`) || !strings.HasSuffix(s, `"`) || len(s) < 4 {
		return 0, false
	}
	n, err := strconv.Atoi(s[2 : len(s)-1])
	return n, err == nil && n > 0
}

func intParam(w http.ResponseWriter, v, name string, lo, hi int) (int, bool) {
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		writeError(w, http.StatusBadRequest, "invalid_field", name, fmt.Sprintf("%q is not a whole number from %d to %d", v, lo, hi), "")
		return 0, false
	}
	return n, true
}

// maxSmallBody bounds the bodies of administrative requests, which are a few fields.
const maxSmallBody = 16 << 10

// decodeSmall decodes a small JSON object strictly: valid UTF-8, no unknown fields, no
// trailing data. An empty body decodes to the zero value.
func decodeSmall(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxSmallBody+1))
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "bad_body", Field: "body", Msg: "the body could not be read", Err: err}
	}
	if len(b) > maxSmallBody {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Field: "body", Msg: fmt.Sprintf("the body is larger than %d bytes", maxSmallBody), Hint: "send a smaller body"}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if !utf8.Valid(b) {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "body", Msg: "the body is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		field := "body"
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			field = te.Field
		} else if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
			if name := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`); name != "" {
				field = name
			}
		}
		return &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: field, Msg: "the body is not the expected JSON object: " + err.Error(), Hint: "see /openapi.json for the request's shape"}
	}
	if dec.More() {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "body", Msg: "data after the JSON object"}
	}
	return nil
}
