package api

import (
	"context"
	"net/http"

	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/webhooks"
)

// WebhookService is what the webhook routes need from the node. Every method acts only
// on the caller's own webhooks; another owner's hook is reported as absent.
type WebhookService interface {
	RegisterWebhook(ctx context.Context, p access.Principal, req WebhookRequest) (*webhooks.Hook, error)
	Webhooks(ctx context.Context, p access.Principal) ([]webhooks.Hook, error)
	DeleteWebhook(ctx context.Context, p access.Principal, id string) error
	WebhookDeliveries(ctx context.Context, p access.Principal, id, cursor string, limit int, dead bool) ([]webhooks.Delivery, string, error)
	ReplayDelivery(ctx context.Context, p access.Principal, deliveryID string) error
}

// WebhookRequest registers a webhook: where to deliver, which alert kinds ("*" for
// every kind; at least one), and the secret that keys the X-Entente-Signature HMAC for
// receivers that cannot verify the JWS.
type WebhookRequest struct {
	URL    string   `json:"url"`
	Kinds  []string `json:"kinds,omitempty"`
	Secret string   `json:"secret"`
}

func (s *Server) registerWebhook(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req WebhookRequest
	if err := decodeBody(r, &req); err != nil {
		s.writeServiceError(w, err)
		return
	}
	h, err := s.svc.RegisterWebhook(r.Context(), p, req)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	h.Secret = "" // given once, never returned
	writeJSON(w, http.StatusCreated, map[string]any{"webhook": h})
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, p access.Principal) {
	hs, err := s.svc.Webhooks(r.Context(), p)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	if hs == nil {
		hs = []webhooks.Hook{}
	}
	for i := range hs {
		hs[i].Secret = ""
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": hs})
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if err := s.svc.DeleteWebhook(r.Context(), p, r.PathValue("id")); err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": r.PathValue("id")})
}

func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request, p access.Principal) {
	q := r.URL.Query()
	for k := range q {
		if k != "cursor" && k != "limit" && k != "state" {
			writeError(w, http.StatusBadRequest, "invalid_field", k, "unknown query parameter", "use cursor, limit or state=dead")
			return
		}
	}
	limit, ok := intParam(w, q.Get("limit"), "limit", 1, 1000)
	if !ok {
		return
	}
	if limit == 0 {
		limit = 100
	}
	dead := false
	switch q.Get("state") {
	case "":
	case "dead":
		dead = true
	default:
		writeError(w, http.StatusBadRequest, "invalid_field", "state", "want dead, or leave it out for every delivery", "")
		return
	}
	ds, next, err := s.svc.WebhookDeliveries(r.Context(), p, r.PathValue("id"), q.Get("cursor"), limit, dead)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	if ds == nil {
		ds = []webhooks.Delivery{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": ds, "next": next})
}

func (s *Server) replayDelivery(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if err := s.svc.ReplayDelivery(r.Context(), p, r.PathValue("id")); err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"replayed": r.PathValue("id")})
}
