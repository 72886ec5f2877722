package webhooks

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"
)

// Secret is a hook's shared secret. It is its own type so that it cannot leak by
// accident: fmt, slog and encoding/json all print "[redacted]" instead of the value.
// Hooks returned by the Outbox never carry it at all.
type Secret string

const redacted = "[redacted]"

func (Secret) String() string   { return redacted }
func (Secret) GoString() string { return `"` + redacted + `"` }

// LogValue keeps the secret out of slog output.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON keeps the secret out of JSON output; decoding is the plain string one.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Hook is a registered webhook.
type Hook struct {
	// ID is assigned by Register ("wh_" and 26 base32 characters).
	ID string `json:"id,omitempty"`
	// URL receives the deliveries by POST.
	URL string `json:"url"`
	// Kinds are the alert kinds wanted; "*" means every kind. At least one is required:
	// an empty list is refused rather than read as "all" or "none", so what a receiver
	// gets is always what it asked for.
	Kinds []string `json:"kinds"`
	// Secret keys the X-Entente-Signature HMAC. It is given to Register and never
	// returned.
	Secret Secret `json:"secret,omitempty"`
	// Owner is the principal that registered the hook; List filters by it and the API
	// checks it before Get, Delete, Deliveries and Replay.
	Owner string `json:"owner"`
	// Created is set by Register.
	Created time.Time `json:"created"`
}

// Event is something to deliver: one alert.
type Event struct {
	// ID identifies the event (the alert's cursor). Enqueue is idempotent by ID.
	// 1 to 256 bytes of printable ASCII, since it also travels in a header.
	ID string `json:"id"`
	// Kind is the alert kind matched against each hook's Kinds.
	Kind string `json:"kind"`
	// Payload is the alert as JSON; it is embedded unchanged in the delivery body.
	Payload []byte `json:"payload"`
}

// State is where a delivery is in its life.
type State string

const (
	// StatePending: waiting for its first or next attempt, or in flight.
	StatePending State = "pending"
	// StateDelivered: a 2xx response was received. Final.
	StateDelivered State = "delivered"
	// StateDead: MaxAttempts attempts failed; only Replay brings it back.
	StateDead State = "dead"
)

// Attempt is one HTTP attempt of a delivery.
type Attempt struct {
	At       time.Time     `json:"at"`
	Duration time.Duration `json:"duration_ns"`
	// StatusCode is the response status, 0 if there was no response.
	StatusCode int `json:"status_code,omitempty"`
	// Error says why the attempt failed; empty on success. It never contains the URL.
	Error string `json:"error,omitempty"`
	// Response is the start of the receiver's response body (at most 256 bytes) when
	// it refused, to help an integrator see why.
	Response string `json:"response,omitempty"`
}

// Delivery is one event for one hook, with its history.
type Delivery struct {
	// ID is DeliveryID(HookID, EventID): stable across retries and restarts.
	ID      string `json:"id"`
	HookID  string `json:"hook_id"`
	EventID string `json:"event_id"`
	Kind    string `json:"kind"`
	State   State  `json:"state"`
	// Attempts counts every attempt made, across replays.
	Attempts int       `json:"attempts"`
	Created  time.Time `json:"created"`
	// NextAttempt is when a pending delivery is next due.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// Finished is when the delivery was delivered or dead-lettered.
	Finished time.Time `json:"finished,omitzero"`
	// History holds the most recent attempts (at most 20), oldest first.
	History []Attempt `json:"history"`
}

// DeliveryID is the id of the delivery of event eventID to hook hookID. It is derived,
// not minted, so the same delivery has the same id however often it is enqueued,
// attempted or recovered after a restart; receivers use it to drop duplicates.
func DeliveryID(hookID, eventID string) string {
	h := sha256.New()
	h.Write([]byte("entente-webhook-delivery\x00"))
	h.Write([]byte(hookID))
	h.Write([]byte{0})
	h.Write([]byte(eventID))
	return deliveryIDPrefix + hex.EncodeToString(h.Sum(nil)[:deliveryIDHashBytes])
}
