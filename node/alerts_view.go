package node

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"sync"

	"github.com/entente/entente/federation"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
)

// AlertFeed returns up to limit alerts of the feed after the cursor after, as p may see
// them, each encoded as its api.AlertView, and the cursor to continue from. See
// renderFeed for what each alert carries.
func (n *Node) AlertFeed(p access.Principal, after uint64, limit int, kinds []string) ([]api.RawAlert, uint64, error) {
	var out []api.RawAlert
	var arena []byte
	next, err := n.renderFeed(p, after, limit, kinds, func(seq uint64, view []byte) {
		if arena == nil { // sized for alerts like the first, unless that one is large
			arena = make([]byte, 0, min(len(view), 512)*min(max(limit, 1), MaxFeedPage))
		}
		start := len(arena)
		arena = append(arena, view...)
		// An arena that grew moved: earlier alerts keep the old array, which stays valid.
		out = append(out, api.RawAlert{Seq: seq, JSON: arena[start:len(arena):len(arena)]})
	})
	if err != nil {
		return nil, 0, err
	}
	return out, next, nil
}

// AppendAlertPage appends to dst the page of the feed after the cursor after as p may
// see it: the JSON of an api.AlertPage of up to limit alerts, the bytes json.Encoder
// (without HTML escaping) writes for it, newline included.
func (n *Node) AppendAlertPage(dst []byte, p access.Principal, after uint64, limit int, kinds []string) ([]byte, error) {
	dst = append(dst, `{"alerts":[`...)
	first := true
	next, err := n.renderFeed(p, after, limit, kinds, func(_ uint64, view []byte) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, view...)
	})
	if err != nil {
		return nil, err
	}
	dst = append(dst, `],"next":`...)
	dst = strconv.AppendUint(dst, next, 10)
	return append(dst, "}\n"...), nil
}

// feedScratch holds a page's stored alerts between reading them and rendering them.
type feedScratch struct {
	buf []byte
	ps  []pendingAlert
}

type pendingAlert struct {
	seq        uint64
	start, end int
	federation bool
	index      uint64
	subject    string
}

// feedScratchPool recycles feedScratch: a page of 1,000 alerts needs about 250 KB of it.
var feedScratchPool = sync.Pool{New: func() any { return new(feedScratch) }}

// maxPooledScratch keeps a scratch buffer grown by a page of unusually large alerts out
// of the pool.
const maxPooledScratch = 1 << 20

// renderFeed calls emit, in feed order, with up to limit alerts after the cursor after,
// keeping only kinds (all when empty), each encoded as its api.AlertView as p may see it,
// and returns the cursor to continue from. view is valid only during the call. Each
// federation alert carries the originator's signed command (so the client can check who
// said what without trusting this node) and the subject it is about, its fields opened
// where p's state and role are cleared for them.
//
// Each alert's stored JSON is used as is (see alerts_entry.go). What depends on the caller
// or on the present (the subject's view) is encoded for this call only, once per subject
// per page, and nothing of it is kept after: there is no cache of opened fields to key by
// clearance or to purge. The stored alerts are copied out of the feed's read transaction
// first, so that opening subjects does not hold it.
func (n *Node) renderFeed(p access.Principal, after uint64, limit int, kinds []string, emit func(seq uint64, view []byte)) (uint64, error) {
	sc := feedScratchPool.Get().(*feedScratch)
	defer func() {
		if cap(sc.buf) <= maxPooledScratch {
			sc.buf, sc.ps = sc.buf[:0], sc.ps[:0]
			feedScratchPool.Put(sc)
		}
	}()
	buf, ps := sc.buf[:0], sc.ps[:0]
	next, err := n.scanFeed(after, limit, kinds, func(seq uint64, e feedEntry) error {
		pe := pendingAlert{seq: seq, start: len(buf), federation: e.federation, index: e.index}
		if e.federation {
			pe.subject = string(e.subject)
		}
		buf = append(buf, e.view...)
		pe.end = len(buf)
		ps = append(ps, pe)
		return nil
	})
	sc.buf, sc.ps = buf, ps
	if err != nil {
		return 0, err
	}
	f := n.fed.Load()
	var subjects map[string][]byte // one view per subject per page
	for _, pe := range ps {
		view := buf[pe.start:pe.end:pe.end]
		if pe.federation && f != nil {
			if subjects == nil {
				subjects = map[string][]byte{}
			}
			var err error
			if view, err = n.completeFederationAlert(f, p, view, pe.index, pe.subject, subjects); err != nil {
				return 0, err
			}
		}
		emit(pe.seq, view)
	}
	return next, nil
}

// AlertPage is AlertFeed decoded, for readers in the node's own process (the dashboard):
// the page exactly as a client decodes it.
func (n *Node) AlertPage(p access.Principal, after uint64, limit int, kinds []string) (*api.AlertPage, error) {
	body, err := n.AppendAlertPage(nil, p, after, limit, kinds)
	if err != nil {
		return nil, err
	}
	var page api.AlertPage
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// completeFederationAlert returns the stored JSON of a federation alert with its signed
// command and its subject's current view spliced in before the closing brace: the fields
// AlertView encodes after the stored ones, in its order, so the bytes are those of the
// whole AlertView. views memoises the encoded subject views of one page (nil for a
// subject that no longer exists).
func (n *Node) completeFederationAlert(f *federation.Federation, p access.Principal, stored []byte, index uint64, subject string, views map[string][]byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(stored) + 2048)
	b.Write(stored[:len(stored)-1])
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if c, ok, err := f.State().SignedCommand(index); err == nil && ok {
		b.WriteString(`,"command":`)
		if err := enc.Encode(api.SignedCommandView{Type: c.Type.String(), Origin: c.Origin,
			SigningInput: base64.RawURLEncoding.EncodeToString(c.SigningInput()), Signature: c.Signature}); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // the Encoder's newline
	}
	view, ok := views[subject]
	if !ok {
		var err error
		if view, err = n.subjectView(f, p, subject); err != nil {
			return nil, err
		}
		views[subject] = view
	}
	b.Write(view)
	b.WriteByte('}')
	return b.Bytes(), nil
}

// subjectView encodes the current view of an alert's subject as the member AlertView
// carries it (`,"entry":{...}` or `,"indicator":{...}`), opened for p; nothing if the
// subject no longer exists (a purged subject has none: that is what retention means).
func (n *Node) subjectView(f *federation.Federation, p access.Principal, subject string) ([]byte, error) {
	var member string
	var v any
	kind, id, _ := strings.Cut(subject, "/")
	switch kind {
	case "watchlist":
		if e, ok, err := f.State().Entry(id); err == nil && ok {
			member, v = "entry", n.entryView(f, p, e)
		}
	case "indicator":
		if in, ok, err := f.State().Indicator(id); err == nil && ok {
			member, v = "indicator", n.indicatorView(f, p, in)
		}
	}
	if v == nil {
		return []byte{}, nil
	}
	var b bytes.Buffer
	b.WriteString(`,"` + member + `":`)
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
