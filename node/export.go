package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/entente/entente/federation"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/export"
)

// Export formats and their media types.
var exportTypes = map[string]string{
	"ftm":  "application/x-ndjson",
	"csv":  "text/csv; charset=utf-8",
	"stix": "application/stix+json;version=2.1",
}

// ExportWatchlist writes the consensus watchlist as p may see it, in format (ftm, csv or
// stix), and returns the media type. Sealed fields are withheld, never written empty.
func (n *Node) ExportWatchlist(ctx context.Context, p access.Principal, format string, w *bytes.Buffer) (string, error) {
	ct, ok := exportTypes[format]
	if !ok {
		return "", &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "format", Msg: fmt.Sprintf("%q is not an export format", format), Hint: "use ftm, csv or stix"}
	}
	entries, _, err := n.Watchlist(ctx, p, "", false)
	if err != nil {
		return "", err
	}
	switch format {
	case "ftm":
		err = export.WriteFTM(w, "entente_"+strings.ToLower(n.id.State), entries)
	case "csv":
		err = export.WriteCSV(w, entries)
	case "stix":
		var ins []api.IndicatorView
		if ins, _, err = n.Indicators(ctx, p, false); err == nil {
			var objs []json.RawMessage
			if objs, err = export.STIXObjects(entries, ins, n.id.State); err == nil {
				err = export.WriteSTIXBundle(w, objs)
			}
		}
	}
	return ct, err
}

// newTAXII is the node's read-only TAXII 2.1 server: one collection of the watchlist and
// the indicators as STIX objects, as the caller may see them.
func (n *Node) newTAXII() http.Handler {
	return export.NewTAXII(taxiiSource{n}, export.Options{
		Title:       "Entente " + n.id.State,
		Description: "The federation's consensus watchlist and risk indicators, as " + n.id.State + " may release them to the caller.",
		OnError: func(r *http.Request, err error) {
			n.log.Warn("taxii request failed", "path", r.URL.Path, "err", err)
		},
	}).Handler()
}

// taxiiSource serves STIX objects to the principal the API put in the request context.
type taxiiSource struct{ n *Node }

var taxiiCollection = export.Collection{ID: export.CollectionID("watchlist"), Title: "Consensus watchlist and risk indicators",
	Description: "Listed parties (identity objects) and risk indicators, opened for the caller's state.", Alias: "watchlist"}

func (s taxiiSource) Collections(context.Context) ([]export.Collection, error) {
	return []export.Collection{taxiiCollection}, nil
}

// Objects gives each object the commit time of the last command about its subject as its
// date_added: leader stamps never go backwards, so TAXII pagination stays gapless.
func (s taxiiSource) Objects(ctx context.Context, id string) ([]export.Object, error) {
	if id != taxiiCollection.ID {
		return nil, nil
	}
	p, ok := api.PrincipalFrom(ctx)
	if !ok {
		return nil, fmt.Errorf("taxii: no principal in the request")
	}
	f, err := s.n.federation()
	if err != nil {
		return nil, err
	}
	entries, _, err := s.n.Watchlist(ctx, p, "", false)
	if err != nil {
		return nil, err
	}
	ins, _, err := s.n.Indicators(ctx, p, false)
	if err != nil {
		return nil, err
	}
	// The producer and the marking definitions come with every subject: keep each
	// distinct object once, with the earliest time it was added.
	objs := map[string]export.Object{}
	add := func(raws []json.RawMessage, at time.Time) error {
		for _, raw := range raws {
			if prev, seen := objs[string(raw)]; seen && !at.Before(prev.DateAdded()) {
				continue
			}
			o, err := export.NewObject(raw, at)
			if err != nil {
				return err
			}
			objs[string(raw)] = o
		}
		return nil
	}
	for _, e := range entries {
		raws, err := export.STIXObjects([]api.WatchlistEntry{e}, nil, s.n.id.State)
		if err != nil {
			return nil, err
		}
		if err := add(raws, commitTime(f, slices.Max(append([]uint64{0}, e.Commands...)))); err != nil {
			return nil, err
		}
	}
	for _, in := range ins {
		raws, err := export.STIXObjects(nil, []api.IndicatorView{in}, s.n.id.State)
		if err != nil {
			return nil, err
		}
		at := in.Published
		if st, ok, _ := f.State().Indicator(in.ID); ok && len(st.Commands) > 0 {
			at = commitTime(f, slices.Max(st.Commands))
		}
		if err := add(raws, at); err != nil {
			return nil, err
		}
	}
	return slices.Collect(maps.Values(objs)), nil // the TAXII server orders them
}

// commitTime is the leader's stamp on the command at index, from the alert it raised.
func commitTime(f *federation.Federation, index uint64) time.Time {
	if index == 0 {
		return time.Unix(0, 0).UTC()
	}
	as, err := f.State().Alerts(index-1, 1)
	if err != nil || len(as) == 0 || as[0].Index != index {
		return time.Unix(0, 0).UTC()
	}
	return time.Unix(0, as[0].Time).UTC()
}
