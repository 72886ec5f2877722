package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/entente/entente/node/records"
)

// ErrorBody is every error response: what was wrong, which field, and what to do.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes one error.
type ErrorDetail struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// Error lets the node return an HTTP-shaped error through Service.
type Error struct {
	Status int
	Code   string
	Field  string
	Msg    string
	Hint   string
	Err    error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, field, msg, hint string) {
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Status: status, Code: code, Field: field, Message: msg, Hint: hint}})
}

// writeServiceError maps an error from the node or a decoder to a response.
func (s *Server) writeServiceError(w http.ResponseWriter, err error) {
	var ae *Error
	var fe *records.FieldError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		writeError(w, ae.Status, ae.Code, ae.Field, ae.Msg, ae.Hint)
	case errors.As(err, &mbe), errors.Is(err, records.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "body", "the body is larger than the node accepts", "send a smaller body")
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, "invalid_field", fe.Field, fe.Problem, "correct the field and send the request again")
	case errors.Is(err, records.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "id", "no record with that id (or version)", "list records with GET /v1/records")
	case errors.Is(err, records.ErrExists):
		writeError(w, http.StatusConflict, "duplicate_id", "id", "a record with that id already exists", "to correct it use PUT /v1/records/{id} with If-Match")
	case errors.Is(err, records.ErrConflict):
		writeError(w, http.StatusPreconditionFailed, "version_conflict", "If-Match", "the record has a newer version than the one named in If-Match", "GET the record, review the latest version, and retry with its ETag")
	default:
		s.log.Error("request failed", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "", "the node could not complete the request; nothing was written", "the node's log has the detail; retry later")
	}
}
