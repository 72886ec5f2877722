package node

import (
	"encoding/base64"
	"strings"

	"github.com/entente/entente/federation"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
)

// AlertPage returns up to limit alerts of the feed after the cursor after, as p may see
// them: each federation alert with the originator's signed command (so the client can
// check who said what without trusting this node) and the subject it is about, its
// fields opened where p's state and role are cleared for them.
func (n *Node) AlertPage(p access.Principal, after uint64, limit int, kinds []string) (*api.AlertPage, error) {
	as, next, err := n.FeedAlerts(after, limit, kinds)
	if err != nil {
		return nil, err
	}
	f := n.fed.Load()
	page := &api.AlertPage{Alerts: make([]api.AlertView, 0, len(as)), Next: next}
	views := map[string]any{} // one view per subject per page
	for _, a := range as {
		v := api.AlertView{Seq: a.Seq, Source: a.Source, Index: a.Index, Time: a.Time, Kind: a.Kind, Subject: a.Subject, Origin: a.Origin, Detail: a.Detail}
		if a.Source == SourceFederation && f != nil {
			if c, ok, err := f.State().SignedCommand(a.Index); err == nil && ok {
				v.Command = &api.SignedCommandView{Type: c.Type.String(), Origin: c.Origin,
					SigningInput: base64.RawURLEncoding.EncodeToString(c.SigningInput()), Signature: c.Signature}
			}
			n.attachSubject(f, p, &v, views)
		}
		page.Alerts = append(page.Alerts, v)
	}
	return page, nil
}

// attachSubject adds the current view of the alert's subject, if it still exists (a
// purged subject has none: that is what retention means).
func (n *Node) attachSubject(f *federation.Federation, p access.Principal, v *api.AlertView, views map[string]any) {
	if cached, ok := views[v.Subject]; ok {
		switch x := cached.(type) {
		case *api.WatchlistEntry:
			v.Entry = x
		case *api.IndicatorView:
			v.Indicator = x
		}
		return
	}
	kind, id, _ := strings.Cut(v.Subject, "/")
	switch kind {
	case "watchlist":
		if e, ok, err := f.State().Entry(id); err == nil && ok {
			ev := n.entryView(f, p, e)
			v.Entry = &ev
		}
		views[v.Subject] = v.Entry
	case "indicator":
		if in, ok, err := f.State().Indicator(id); err == nil && ok {
			iv := n.indicatorView(f, p, in)
			v.Indicator = &iv
		}
		views[v.Subject] = v.Indicator
	}
}
