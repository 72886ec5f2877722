// Package webhooks delivers a node's alerts to integrators' HTTP endpoints through a
// durable outbox kept in the node's bbolt database.
//
// Webhooks fail their users in predictable ways: deliveries lost when the sender
// restarts, duplicates that the receiver cannot tell apart from new events, retries
// that hammer a receiver that is down, one dead receiver holding up everyone else, and
// no way to see what happened. This package is built so that none of these can happen
// silently.
//
// # What a receiver gets
//
// Each delivery is a POST of this JSON body:
//
//	{"id":"dl_…","hook":"wh_…","event":"<alert cursor>","kind":"listing",
//	 "enqueued":"<RFC 3339>","payload":<the alert, as enqueued>}
//
// with these headers:
//
//	Content-Type:        application/json
//	X-Entente-Delivery:  the delivery id (also in the body)
//	X-Entente-Event:     the event id (the alert cursor)
//	X-Entente-Kind:      the alert kind
//	X-Entente-Hook:      the hook id
//	X-Entente-Attempt:   1 for the first attempt, 2 for the second, …
//	X-JWS-Signature:     detached JWS (RFC 7515 appendix F, EdDSA) over the exact body,
//	                     by the node's key; verify it against the node's JWKS
//	X-Entente-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
//
// The JWS is the signature that proves origin: it is made with the node's published
// key, the same one that signs its API responses, so a receiver can also show a third
// party where a delivery came from. The HMAC, keyed with the secret given at
// registration, is for receivers whose stack cannot verify a JWS; it proves only that
// the sender knew the secret. A receiver should check one of them (ideally the JWS),
// and with the HMAC may also refuse a t too far from its own clock.
//
// The body is the same bytes on every attempt of a delivery; the signatures cover the
// body, and the delivery id is inside it.
//
// A receiver acknowledges with any 2xx status. Anything else — another status, a
// redirect (never followed), a timeout, a refused connection — is a failed attempt.
//
// # Guarantees
//
//   - Nothing is lost. Enqueue (or EnqueueTx, in the node's own transaction) writes the
//     event and one pending delivery per matching hook in a single bbolt transaction.
//     Once it has committed, each delivery is attempted until it is acknowledged or
//     dead-lettered, across any number of restarts or crashes.
//   - One id per delivery, forever. A delivery's id is DeliveryID(hook id, event id),
//     derived rather than minted, so retries, replays, re-enqueues and restarts all use
//     the same id; and enqueuing the same event id again creates nothing.
//   - At least once, hence exactly once for a receiver that deduplicates. An attempt in
//     flight when the process stops, or whose 2xx was received but not yet recorded, is
//     retried after the next Open under the same id. Exactly-once is therefore
//     impossible to promise over HTTP, and not promised: receivers MUST treat the
//     delivery id (X-Entente-Delivery, or "id" in the signed body) as an idempotency
//     key, remembering ids for at least Retention. Doing so, they see each delivery
//     exactly once; the tests check this with the outbox closed mid-delivery and with
//     its process killed.
//   - Bounded, spread-out retries. After the n-th failed attempt the next is due after
//     a delay uniform in [0, min(BackoffMax, BackoffBase·2^(n-1))] (full jitter), or
//     after the receiver's Retry-After on 429 and 503 if that is longer (capped at
//     BackoffMax). After MaxAttempts failures the delivery is dead-lettered: kept,
//     listed by DeadLetters, and sent again only on Replay, with the same id and a fresh
//     budget of attempts. With the defaults (5 s, 1 h, 15 attempts) a receiver may be
//     down for about 2.7 hours on average (at most 5.4) before a delivery is
//     dead-lettered.
//   - Isolation. A slow or dead receiver holds only its own share of the workers:
//     at most PerHookConcurrency requests are in flight to one hook and at most
//     Workers overall; a hook's second and further concurrent requests may not use the
//     last quarter of the workers, which is kept for hooks with nothing in flight;
//     once a hook's attempt has failed it gets one request at a time, and failing
//     hooks together at most half of the workers, until it succeeds again; and hooks
//     with due deliveries are served round-robin. With the defaults (32 workers, 4
//     per hook, 10 s timeout) it takes 14 receivers hanging at the same moment to
//     hold every worker, and then only until they time out.
//   - Ordering. First attempts for a hook are started in the order the events were
//     enqueued, but up to PerHookConcurrency of them run at once and a failed delivery
//     is retried later while later ones proceed, so receivers must not rely on arrival
//     order. The event id (the alert cursor) in each body gives the order.
//   - History. Every attempt is recorded with its time, duration, status and error
//     (the latest 20 per delivery); Deliveries lists a hook's deliveries newest first.
//     Delivered and dead-lettered deliveries, and the record of each event (which is
//     what makes Enqueue idempotent), are kept for Retention (default 30 days); an
//     event enqueued again after that is delivered again, under the same id.
//   - Secrets stay secret. A hook's secret is stored (it keys the HMAC) but no method
//     returns it, no log line contains it (nor the hook URL, whose query may carry a
//     token), and the Secret type prints and marshals as "[redacted]".
//   - Hooks see only what they registered for, from registration on: an event is
//     delivered to the hooks whose kinds match when it is enqueued.
//
// # Limits
//
// Everything is bounded: hooks (MaxHooks), payload size (MaxPayloadBytes), the part
// of a response read (MaxResponseBytes), the time of an attempt (Timeout), requests
// in flight (Workers, PerHookConcurrency), attempts per delivery (MaxAttempts), pages
// (500), and the work of every transaction the outbox runs on its own (256 results,
// 500 removals). Stored data is bounded by Retention.
//
// Target URLs must be http or https, with a host and without user info or fragment;
// Options.URLPolicy adds the node's own rules, checked at registration and before
// every attempt. Because a name can resolve elsewhere later, a node that must keep
// deliveries off internal addresses should also pass a Client whose dialer refuses
// them. Redirects are never followed.
//
// # Storage layout
//
// All buckets are top-level in the node's database and named "webhook_…". Hook ids
// are fixed-length and contain no NUL, so hook id + 0x00 is a key prefix; integers are
// 8-byte big-endian; times are Unix nanoseconds.
//
//	webhook_hooks          hook id → JSON hook (with its secret)
//	webhook_kinds          kind 0x00 hook id → ∅            (which hooks want a kind; "*" too)
//	webhook_deleted_hooks  hook id → ∅                      (deliveries still to remove)
//	webhook_events         event id → JSON {kind, enqueued, refs, expired}
//	webhook_payloads       event id → payload               (while a delivery refers to it)
//	webhook_event_expiry   enqueued event id → ∅
//	webhook_deliveries     hook 0x00 seq → JSON delivery with its attempts
//	webhook_delivery_ids   delivery id → hook 0x00 seq
//	webhook_due            hook 0x00 next-at seq → delivery id    (pending only)
//	webhook_dead           hook 0x00 finished seq → delivery id   (dead only)
//	webhook_expiry         finished delivery id → ∅        (delivered and dead)
//
// Deliveries are stored by hook and enqueue sequence, so a hook's history is one key
// range (read backwards for newest first) and the records a batch of results updates
// sit on few pages.
// The due index is per hook so that the dispatcher can take a fair share from each
// hook without reading past another hook's backlog. Claims are kept in memory only:
// after a restart, everything pending and due is due again, which is exactly the
// recovery wanted. Only one Outbox may be open on a database.
package webhooks
