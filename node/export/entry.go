package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/records"
	"github.com/entente/entente/policy"
)

// Limits on what an export accepts. The node validated every value when it was
// nominated, so these only stop a corrupted or hostile state from costing an export more
// than a real watchlist would.
const (
	// MaxEntries caps the entries (and, separately, the indicators) one call exports.
	MaxEntries = 1 << 20
	// maxValueBytes caps one field's JSON value; records caps free text at 16 KiB and a
	// party at a few tens of KiB.
	maxValueBytes = 256 << 10
)

// Field names of a watchlist entry, as federation/command.Nominate allows them.
const (
	fieldParty     = "party"
	fieldBasis     = "basis"
	fieldRationale = "rationale"
)

// Watchlist statuses (federation/state), repeated here so that the export does not
// depend on the replicated state package.
const (
	statusListed    = "listed"
	statusReviewDue = "review-due"
	statusAppealed  = "appealed"
	statusDelisted  = "delisted"
	statusExpired   = "expired"
)

// InForce reports whether an entry with this status is on the consensus watchlist now:
// listed, due for review or under appeal. Entries that are only nominated or disputed
// were never agreed, and delisted, expired or rejected ones no longer apply; FtM and CSV
// leave them out, and STIX carries the delisted and expired ones only as revocations.
func InForce(status string) bool {
	switch status {
	case statusListed, statusReviewDue, statusAppealed:
		return true
	}
	return false
}

// entryIDRE is the shape of an entry id (federation/command checkID). Checking it again
// bounds every id an export writes and keeps ids safe inside FtM ids and STIX names.
var entryIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// entry is one watchlist entry with the fields an export may write decoded, and the
// names of those it must not write.
type entry struct {
	*api.WatchlistEntry
	party            *records.Party
	partyMarking     policy.Marking
	basis            *api.Basis
	basisMarking     policy.Marking
	rationale        string
	hasRationale     bool
	rationaleMarking policy.Marking
	// withheld lists, sorted, every field that has a value this export does not write:
	// sealed for this node, marked NATIONAL, or carrying a marking that does not parse.
	withheld []string
}

// openEntry decodes the exportable fields of e. A field is exportable only if it is
// opened (not sealed), has a value, and carries a valid marking that may leave the node;
// anything else goes to withheld, so that no export ever shows a withheld value as
// empty. A value that is opened but does not decode is an error: the state is corrupt,
// and writing a partial entry would hide that.
func openEntry(e *api.WatchlistEntry) (*entry, error) {
	if !entryIDRE.MatchString(e.ID) {
		return nil, fmt.Errorf("watchlist entry id %q: not an entry id", clip(e.ID))
	}
	out := &entry{WatchlistEntry: e}
	names := make([]string, 0, len(e.Fields))
	for name := range e.Fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		f := e.Fields[name]
		m, ok := exportable(f)
		if !ok {
			out.withheld = append(out.withheld, name)
			continue
		}
		if len(f.Value) > maxValueBytes {
			return nil, fmt.Errorf("watchlist entry %s: field %s is %d bytes; at most %d are exported", e.ID, name, len(f.Value), maxValueBytes)
		}
		var err error
		switch name {
		case fieldParty:
			var p records.Party
			if err = json.Unmarshal(f.Value, &p); err == nil && strings.TrimSpace(p.Name) == "" {
				err = fmt.Errorf("party has no name")
			}
			out.party, out.partyMarking = &p, m
		case fieldBasis:
			var b api.Basis
			err = json.Unmarshal(f.Value, &b)
			out.basis, out.basisMarking = &b, m
		case fieldRationale:
			err = json.Unmarshal(f.Value, &out.rationale)
			out.hasRationale, out.rationaleMarking = err == nil, m
		}
		if err != nil {
			return nil, fmt.Errorf("watchlist entry %s: field %s: %w", e.ID, name, err)
		}
	}
	return out, nil
}

// exportable returns the parsed marking of f and whether its value may be exported.
func exportable(f api.FieldView) (policy.Marking, bool) {
	if f.Sealed || len(bytes.TrimSpace(f.Value)) == 0 || bytes.Equal(bytes.TrimSpace(f.Value), []byte("null")) {
		return policy.Marking{}, false
	}
	m, err := policy.ParseMarking(f.Marking)
	if err != nil || !policy.MayLeave(m) {
		return policy.Marking{}, false
	}
	return m, true
}

// sortedEntries checks the number of entries, refuses duplicate ids, and returns
// pointers to the entries in id order, so that every export is independent of the order
// the caller happened to list them in.
func sortedEntries(entries []api.WatchlistEntry) ([]*api.WatchlistEntry, error) {
	if len(entries) > MaxEntries {
		return nil, fmt.Errorf("%d watchlist entries: at most %d are exported at once", len(entries), MaxEntries)
	}
	out := make([]*api.WatchlistEntry, len(entries))
	for i := range entries {
		out[i] = &entries[i]
	}
	slices.SortStableFunc(out, func(a, b *api.WatchlistEntry) int { return strings.Compare(a.ID, b.ID) })
	for i := 1; i < len(out); i++ {
		if out[i].ID == out[i-1].ID {
			return nil, fmt.Errorf("watchlist entry %q appears twice", clip(out[i].ID))
		}
	}
	return out, nil
}

// listedAt is when the entry went on the list: the decision, or the nomination for an
// entry that somehow has no decision time.
func (e *entry) listedAt() (time.Time, bool) {
	switch {
	case e.Decided != nil && !e.Decided.IsZero():
		return e.Decided.UTC(), true
	case e.Nominated != nil && !e.Nominated.IsZero():
		return e.Nominated.UTC(), true
	}
	return time.Time{}, false
}

// withheldNotice is the sentence FtM writes where a field is withheld.
func withheldNotice(names []string) string {
	return "Withheld from this export (sealed for this node or not releasable): " + strings.Join(names, ", ") + "."
}

// countryName returns the English short name of an alpha-3 code, or the code itself.
func countryName(alpha3 string) string {
	if c, ok := countries[alpha3]; ok {
		return c.name
	}
	return alpha3
}

// formatAddress writes an address on one line: street, postal code and city, country.
func formatAddress(a records.Address) string {
	var parts []string
	if s := strings.TrimSpace(a.Street); s != "" {
		parts = append(parts, s)
	}
	if s := strings.TrimSpace(strings.TrimSpace(a.PostalCode) + " " + strings.TrimSpace(a.City)); s != "" {
		parts = append(parts, s)
	}
	if a.Country != "" {
		parts = append(parts, countryName(a.Country))
	}
	return strings.Join(parts, ", ")
}

// appendUnique appends the non-empty values of vs to list, skipping those already in it.
func appendUnique(list []string, vs ...string) []string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}

// clip shortens s for an error message so that hostile input cannot blow up logs.
func clip(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
