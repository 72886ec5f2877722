package node

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/entente/entente/node/api"
)

// A feed entry is stored the way a page needs it. Serving a page of 1,000 alerts used to
// cost one JSON decode per stored alert and one JSON encode per alert on the way out,
// most of the node's share of a page. An entry is now a small binary header holding what
// the node must read to serve it (which source, the federation log index, the kind to
// filter on, the subject to attach) followed by the alert's own JSON, rendered once when
// it is appended: exactly the bytes of its api.AlertView without the parts that depend on
// the caller or change later (the signed command and the subject's current view). A page
// is then the stored JSON copied as is, and a federation alert's command and subject are
// spliced in before its closing brace.
//
// Layout, after the version byte feedEntryV1:
//
//	source byte (0 local, 1 federation) | uvarint index | uvarint len(kind) | kind |
//	uvarint len(subject) | subject | the alert's JSON
//
// The stored JSON holds every field of the FeedAlert too (the two share their JSON
// fields), so it is also the entry's full record: FeedAlerts decodes it, and a later
// layout can be rendered from it. Entries written before this layout are the FeedAlert's
// JSON alone; they start with '{' and are read through the slow path.
const feedEntryV1 = 0x01

const (
	entryLocal      = 0
	entryFederation = 1
)

// feedEntry is a stored entry read in place: its slices point into the database page and
// are valid only in the transaction that read them.
type feedEntry struct {
	federation bool
	index      uint64
	kind       []byte
	subject    []byte
	view       []byte // the alert's JSON, ending in '}'
}

var errFeedEntry = errors.New("malformed alert feed entry")

// renderAlertView encodes the caller-independent part of an alert's view as the API
// serves it: without HTML escaping and without a trailing newline, the bytes
// encoding/json's Encoder writes for the same api.AlertView inside a page.
func renderAlertView(a *FeedAlert) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	v := api.AlertView{Seq: a.Seq, Source: a.Source, Index: a.Index, Time: a.Time, Kind: a.Kind, Subject: a.Subject, Origin: a.Origin, Detail: a.Detail}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// encodeFeedEntry returns the stored form of a (numbered) alert and its rendered JSON,
// which is also what the alert's webhooks carry.
func encodeFeedEntry(a *FeedAlert) (entry, view []byte, err error) {
	view, err = renderAlertView(a)
	if err != nil {
		return nil, nil, err
	}
	src := byte(entryLocal)
	if a.Source == SourceFederation {
		src = entryFederation
	}
	entry = make([]byte, 0, 3+binary.MaxVarintLen64+len(a.Kind)+len(a.Subject)+2*binary.MaxVarintLen32+len(view))
	entry = append(entry, feedEntryV1, src)
	entry = binary.AppendUvarint(entry, a.Index)
	entry = binary.AppendUvarint(entry, uint64(len(a.Kind)))
	entry = append(entry, a.Kind...)
	entry = binary.AppendUvarint(entry, uint64(len(a.Subject)))
	entry = append(entry, a.Subject...)
	entry = append(entry, view...)
	return entry, view, nil
}

// decodeFeedEntry reads a stored entry in place. An entry in the layout written before
// feedEntryV1 (the FeedAlert's JSON) is decoded and rendered, into new memory.
func decodeFeedEntry(v []byte) (feedEntry, error) {
	if len(v) > 0 && v[0] == '{' {
		var a FeedAlert
		if err := json.Unmarshal(v, &a); err != nil {
			return feedEntry{}, err
		}
		view, err := renderAlertView(&a)
		if err != nil {
			return feedEntry{}, err
		}
		return feedEntry{federation: a.Source == SourceFederation, index: a.Index, kind: []byte(a.Kind), subject: []byte(a.Subject), view: view}, nil
	}
	if len(v) < 2 || v[0] != feedEntryV1 || v[1] > entryFederation {
		return feedEntry{}, errFeedEntry
	}
	e := feedEntry{federation: v[1] == entryFederation}
	rest := v[2:]
	var n int
	if e.index, n = binary.Uvarint(rest); n <= 0 {
		return feedEntry{}, errFeedEntry
	}
	rest = rest[n:]
	var ok bool
	if e.kind, rest, ok = lengthPrefixed(rest); !ok {
		return feedEntry{}, errFeedEntry
	}
	if e.subject, rest, ok = lengthPrefixed(rest); !ok {
		return feedEntry{}, errFeedEntry
	}
	if len(rest) < 2 || rest[0] != '{' || rest[len(rest)-1] != '}' {
		return feedEntry{}, errFeedEntry
	}
	e.view = rest
	return e, nil
}

func lengthPrefixed(b []byte) (field, rest []byte, ok bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return nil, nil, false
	}
	return b[n : n+int(l)], b[n+int(l):], true
}

// feedAlert decodes an entry into the FeedAlert it was made from.
func (e feedEntry) feedAlert() (FeedAlert, error) {
	var a FeedAlert
	if err := json.Unmarshal(e.view, &a); err != nil {
		return a, fmt.Errorf("%w: %v", errFeedEntry, err)
	}
	return a, nil
}
