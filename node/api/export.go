package api

import (
	"bytes"
	"context"
	"net/http"

	"github.com/entente/entente/node/access"
)

// ExportService is what the file exports need from the node.
type ExportService interface {
	// ExportWatchlist writes the watchlist as p may see it in format and returns the
	// media type.
	ExportWatchlist(ctx context.Context, p access.Principal, format string, w *bytes.Buffer) (string, error)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p, for handlers mounted behind the API's token check
// (the TAXII server) to decide what p may see.
func WithPrincipal(ctx context.Context, p access.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal WithPrincipal put in ctx.
func PrincipalFrom(ctx context.Context) (access.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(access.Principal)
	return p, ok
}

func (s *Server) watchlistExport(w http.ResponseWriter, r *http.Request, p access.Principal) {
	q := r.URL.Query()
	for k := range q {
		if k != "format" {
			writeError(w, http.StatusBadRequest, "invalid_field", k, "unknown query parameter", "use format=ftm, csv or stix")
			return
		}
	}
	var buf bytes.Buffer
	ct, err := s.svc.ExportWatchlist(r.Context(), p, q.Get("format"), &buf)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// serveTAXII hands the request, with the caller's principal, to the TAXII server. Its
// answers are signed like every other response.
func (s *Server) serveTAXII(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if s.taxii == nil {
		writeError(w, http.StatusNotFound, "not_found", "", "this node serves no TAXII", "")
		return
	}
	s.taxii.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
}
