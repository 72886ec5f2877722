package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/webhooks"
)

// nodeSigner signs webhook deliveries with whatever key the node signs with now, so a
// key rotation takes effect for deliveries too.
type nodeSigner struct{ n *Node }

func (s nodeSigner) Detached(payload []byte) (string, error) { return s.n.Signer().Detached(payload) }

// openWebhooks opens the durable outbox in the node database. Unless the operator allows
// private targets, both the registration check and the dialer refuse loopback, private,
// link-local and unspecified addresses: a name that resolves elsewhere later is caught
// when the connection is made, not only when the hook is registered.
func (n *Node) openWebhooks() error {
	allowPrivate := n.cfg.WebhookAllowPrivate
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		if ip := net.ParseIP(host); ip != nil && !allowPrivate && !publicIP(ip) {
			return fmt.Errorf("webhook target %s is not a public address (the node refuses internal targets; see webhook_allow_private)", ip)
		}
		return nil
	}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, TLSHandshakeTimeout: 10 * time.Second, MaxIdleConnsPerHost: 8}}
	ob, err := webhooks.Open(n.db, webhooks.Options{Signer: nodeSigner{n}, Client: client, Logger: n.log.With("component", "webhooks"),
		URLPolicy: func(u *url.URL) error {
			if ip := net.ParseIP(u.Hostname()); ip != nil && !allowPrivate && !publicIP(ip) {
				return fmt.Errorf("%s is not a public address; the operator must set webhook_allow_private to allow it", ip)
			}
			return nil
		}})
	if err != nil {
		return err
	}
	n.hooks = ob
	return nil
}

func publicIP(ip net.IP) bool {
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast())
}

// owner is whom a webhook belongs to: the token's subject, so a renewed token for the
// same integrator keeps its hooks.
func owner(p access.Principal) string { return p.Subject }

func webhookError(err error) error {
	switch {
	case errors.Is(err, webhooks.ErrInvalid), errors.Is(err, webhooks.ErrTooLarge):
		return &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Msg: err.Error(), Err: err}
	case errors.Is(err, webhooks.ErrLimit):
		return &api.Error{Status: http.StatusConflict, Code: "limit", Msg: err.Error(), Hint: "delete webhooks you no longer use", Err: err}
	case errors.Is(err, webhooks.ErrNotFound):
		return &api.Error{Status: http.StatusNotFound, Code: "not_found", Msg: err.Error(), Err: err}
	case errors.Is(err, webhooks.ErrNotDead):
		return &api.Error{Status: http.StatusConflict, Code: "not_dead", Msg: err.Error(), Hint: "only a dead-lettered delivery is replayed", Err: err}
	}
	return err
}

// RegisterWebhook registers a webhook for p.
func (n *Node) RegisterWebhook(ctx context.Context, p access.Principal, req api.WebhookRequest) (*webhooks.Hook, error) {
	h, err := n.hooks.Register(ctx, webhooks.Hook{URL: req.URL, Kinds: req.Kinds, Secret: webhooks.Secret(req.Secret), Owner: owner(p)})
	if err != nil {
		return nil, webhookError(err)
	}
	return &h, nil
}

// ownHook returns hook id if p owns it; another owner's hook is reported as absent.
func (n *Node) ownHook(ctx context.Context, p access.Principal, id string) (webhooks.Hook, error) {
	h, err := n.hooks.Get(ctx, id)
	if err != nil {
		return h, webhookError(err)
	}
	if h.Owner != owner(p) {
		return h, &api.Error{Status: http.StatusNotFound, Code: "not_found", Field: "id", Msg: "no webhook " + id}
	}
	return h, nil
}

// Webhooks lists p's webhooks.
func (n *Node) Webhooks(ctx context.Context, p access.Principal) ([]webhooks.Hook, error) {
	hs, err := n.hooks.List(ctx, owner(p))
	return hs, webhookError(err)
}

// DeleteWebhook deletes one of p's webhooks.
func (n *Node) DeleteWebhook(ctx context.Context, p access.Principal, id string) error {
	if _, err := n.ownHook(ctx, p, id); err != nil {
		return err
	}
	return webhookError(n.hooks.Delete(ctx, id))
}

// WebhookDeliveries is the delivery history of one of p's webhooks, newest first; dead
// selects the dead-letter list.
func (n *Node) WebhookDeliveries(ctx context.Context, p access.Principal, id, cursor string, limit int, dead bool) ([]webhooks.Delivery, string, error) {
	if _, err := n.ownHook(ctx, p, id); err != nil {
		return nil, "", err
	}
	var ds []webhooks.Delivery
	var next string
	var err error
	if dead {
		ds, next, err = n.hooks.DeadLetters(ctx, id, cursor, limit)
	} else {
		ds, next, err = n.hooks.Deliveries(ctx, id, cursor, limit)
	}
	return ds, next, webhookError(err)
}

// ReplayDelivery sends a dead-lettered delivery of one of p's webhooks again, under the
// same id.
func (n *Node) ReplayDelivery(ctx context.Context, p access.Principal, deliveryID string) error {
	d, err := n.hooks.Delivery(ctx, deliveryID)
	if err != nil {
		return webhookError(err)
	}
	if _, err := n.ownHook(ctx, p, d.HookID); err != nil {
		return err
	}
	return webhookError(n.hooks.Replay(ctx, deliveryID))
}
