package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
)

// alertsShown is how many of the newest alerts the timeline page renders.
const alertsShown = 50

// Stream timings, as for the API's stream: a heartbeat keeps the connection open through
// proxies, and a write that does not finish in time (api.EventSender) drops the
// subscriber, whose browser reconnects with Last-Event-ID.
const streamHeartbeat = 15 * time.Second

// alertItem is one alert on the timeline.
type alertItem struct {
	Seq     uint64 `json:"seq"`
	Time    string `json:"time"`
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	Origin  string `json:"origin"`
	Source  string `json:"source"`
	// Href links to the subject's page, when the dashboard has one.
	Href string `json:"href,omitempty"`
}

func itemOf(a api.AlertView) alertItem {
	it := alertItem{Seq: a.Seq, Time: when(a.Time), Kind: a.Kind, Subject: a.Subject, Origin: a.Origin, Source: a.Source}
	if id, ok := strings.CutPrefix(a.Subject, "watchlist/"); ok {
		it.Href = "/ui/watchlist/" + url.PathEscape(id)
	}
	return it
}

type alertsView struct {
	Items []alertItem
	Next  uint64
}

func (h *Handler) alerts(w http.ResponseWriter, r *http.Request, v *viewer) {
	last, err := h.lastSeq(v.p)
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	from := uint64(0)
	if last > alertsShown {
		from = last - alertsShown
	}
	page, err := h.svc.AlertPage(v.p, from, alertsShown, nil)
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	view := alertsView{Next: page.Next}
	for i := len(page.Alerts) - 1; i >= 0; i-- {
		view.Items = append(view.Items, itemOf(page.Alerts[i]))
	}
	h.show(w, r, v, http.StatusOK, "alerts", "Alerts", view, "", "")
}

// lastSeq finds the newest alert's sequence number. The feed is gapless from 1, so an
// exponential probe and a binary search find it in about 2·log2(n) single-alert reads,
// however long the feed.
func (h *Handler) lastSeq(p access.Principal) (uint64, error) {
	after := func(a uint64) (bool, error) {
		page, err := h.svc.AlertPage(p, a, 1, nil)
		if err != nil {
			return false, err
		}
		return len(page.Alerts) > 0 || page.Next > a, nil
	}
	var lo, hi uint64 = 0, 1 // invariant: something after lo (or lo is 0), nothing after hi
	for {
		more, err := after(hi)
		if err != nil {
			return 0, err
		}
		if !more {
			break
		}
		lo, hi = hi, hi*2
		if hi > 1<<62 {
			return 0, fmt.Errorf("ui: the alert feed is longer than this dashboard can page")
		}
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		more, err := after(mid)
		if err != nil {
			return 0, err
		}
		if more {
			lo = mid
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		more, err := after(0)
		if err != nil || !more {
			return 0, err
		}
	}
	return hi, nil
}

// alertStream is the timeline's live feed: Server-Sent Events of the alerts after the
// cursor, for the signed-in session (EventSource cannot send a bearer token, so the
// session cookie authenticates it, and its token is checked as for any page). The
// session is checked again on every wake-up, so revoking the token ends the stream.
func (h *Handler) alertStream(w http.ResponseWriter, r *http.Request, v *viewer) {
	after, err := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	if err != nil {
		after = 0
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		if n, err := strconv.ParseUint(id, 10, 64); err == nil {
			after = n
		}
	}
	rc := http.NewResponseController(w)
	// The server's read timeout is for reading requests; a stream outlives it.
	_ = rc.SetReadDeadline(time.Time{})
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	send := api.EventSender(w, rc)
	if !send([]byte("retry: 2000\n\n")) {
		return
	}
	tick := time.NewTicker(streamHeartbeat)
	defer tick.Stop()
	for {
		if _, err := h.svc.Authenticate(v.se.token); err != nil {
			h.sess.end(v.id)
			_ = send([]byte("event: ended\ndata: {}\n\n"))
			return
		}
		if !h.sess.alive(v.id) {
			_ = send([]byte("event: ended\ndata: {}\n\n"))
			return
		}
		wake := h.svc.FeedWait() // before reading, so an append in between is not missed
		page, err := h.svc.AlertPage(v.p, after, 100, nil)
		if err != nil {
			h.log.Warn("dashboard alert stream: reading the feed", "err", err)
			return
		}
		for _, a := range page.Alerts {
			b, err := json.Marshal(itemOf(a))
			if err != nil || !send(fmt.Appendf(nil, "id: %d\nevent: alert\ndata: %s\n\n", a.Seq, b)) {
				return
			}
		}
		moved := page.Next != after
		after = page.Next
		if len(page.Alerts) > 0 || moved {
			continue
		}
		select {
		case <-r.Context().Done():
			return
		case <-wake:
		case <-tick.C:
			if !send([]byte(": heartbeat\n\n")) {
				return
			}
		}
	}
}
