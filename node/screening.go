package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/federation/state"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/audit"
	"github.com/entente/entente/node/lists"
	"github.com/entente/entente/node/records"
	"github.com/entente/entente/node/risk"
	"github.com/entente/entente/node/screen"
	"github.com/entente/entente/node/screening"
	"github.com/entente/entente/policy"
)

// The audit actions of screening.
const (
	ActionListImport  = "list.import"
	ActionScreen      = "screen.run"
	ActionScreenBatch = "screen.batch"
	ActionRescreen    = "screen.rescreen"
	ActionRiskAssess  = "risk.assess"
)

// screeningPrincipal is the node itself when it opens records and shared fields to
// screen them: an analyst's reading rights, no more, and it never leaves the node.
var screeningPrincipal = access.Principal{TokenID: "system", Subject: "node (screening)", Role: policy.RoleAnalyst}

// consignmentWindow is how long after its shipping date a consignment still counts as
// pending: until then it can be held in transit or checked on arrival, so a party that
// is listed meanwhile is worth an alert.
const consignmentWindow = 30 * 24 * time.Hour

// screeningState is the node's screening service and the consensus list's bookkeeping.
// It holds no reference to the Node, so that a Node nobody uses any more can be collected
// along with it (see screeningStates).
type screeningState struct {
	once sync.Once
	svc  *screening.Service
	err  error

	consMu  sync.Mutex // one consensus rebuild at a time
	applied uint64     // the federation index the consensus list was last checked at
	sealed  int        // entries whose party this node may not open
}

func (n *Node) screeningState() *screeningState { return &n.scr }

// screening returns the screening service, loading the stored lists and building their
// indexes on first use.
func (n *Node) screening() (*screening.Service, error) {
	st := n.screeningState()
	st.once.Do(func() {
		st.svc, st.err = screening.Open(n.db, n.log)
		if st.err != nil {
			n.log.Error("screening lists could not be loaded; screening is unavailable", "err", st.err)
		}
	})
	return st.svc, st.err
}

// StartScreening loads the screening lists (building one index per list, with progress
// in the log) and starts the goroutine that keeps the consensus list in step with the
// federation: it checks the replicated state's applied index every second and rebuilds
// the list, and re-screens pending records, when the index moved and the listed parties
// changed. It returns a function that stops the goroutine and waits for it; call it
// before the federation shuts down and before Close.
func (n *Node) StartScreening(ctx context.Context) (stop func()) {
	if _, err := n.screening(); err != nil {
		n.log.Error("screening is unavailable", "err", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var last uint64
		for {
			if f := n.fed.Load(); f != nil {
				if a := f.State().Applied(); a != last {
					if _, err := n.RefreshConsensus(ctx); err != nil {
						n.log.Warn("rebuilding the consensus list failed; the previous one keeps serving", "err", err)
					} else {
						last = a
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

// consensusStatuses are the watchlist statuses whose parties are screened: listed, and
// still listed while under review or appeal.
var consensusStatuses = []string{state.StatusListed, state.StatusReviewDue, state.StatusAppealed}

// RefreshConsensus rebuilds the consensus list from the federation's watchlist entries
// that are listed, review-due or appealed, with the party fields this node may open
// (sealed ones are skipped and counted). When the parties changed, the new list is
// swapped in and pending records are re-screened against it. It reports whether the list
// changed; on a node outside a federation it does nothing.
func (n *Node) RefreshConsensus(ctx context.Context) (bool, error) {
	f := n.fed.Load()
	if f == nil {
		return false, nil
	}
	svc, err := n.screening()
	if err != nil {
		return false, err
	}
	st := n.screeningState()
	st.consMu.Lock()
	defer st.consMu.Unlock()
	// One status at a time, so that only the parties that are screened are opened.
	var entries []api.WatchlistEntry
	var applied uint64
	for _, status := range consensusStatuses {
		es, idx, err := n.Watchlist(ctx, screeningPrincipal, status, false)
		if err != nil {
			return false, err
		}
		entries, applied = append(entries, es...), max(applied, idx)
	}
	var es []screen.Entity
	sealed := 0
	for _, e := range entries {
		if !slices.Contains(consensusStatuses, e.Status) {
			continue
		}
		fv, ok := e.Fields["party"]
		if !ok || fv.Sealed || len(fv.Value) == 0 {
			sealed++
			continue
		}
		var p records.Party
		if err := json.Unmarshal(fv.Value, &p); err != nil {
			n.log.Warn("a watchlist party does not decode; it is not screened", "entry", e.ID, "err", err)
			sealed++
			continue
		}
		if ent := screening.ConsensusEntity(e.ID, e.Kind, p); len(ent.Names) > 0 {
			es = append(es, ent)
		}
	}
	st.applied, st.sealed = applied, sealed
	if _, exists := svc.Snapshot().Get(screening.ConsensusList); !exists && len(es) == 0 {
		return false, nil
	}
	l, changed := svc.SetConsensus(es, "index-"+strconv.FormatUint(applied, 10), n.now())
	if changed {
		if _, err := n.rescreen(svc, l); err != nil {
			return true, fmt.Errorf("re-screening against the consensus list: %w", err)
		}
	}
	return changed, nil
}

// ImportList imports list name from an NDJSON body: a header line, then one entity per
// line. The import and its audit entry are one transaction; pending records are then
// re-screened against the list if its content changed.
func (n *Node) ImportList(p access.Principal, name string, body io.Reader) (*api.ImportResponse, error) {
	svc, err := n.screening()
	if err != nil {
		return nil, err
	}
	now := n.now()
	var seq uint64
	res, err := svc.Import(name, body, p.Subject, now, screening.DefaultLimits, func(tx *bbolt.Tx, m screening.Meta, prev *screening.Meta) error {
		detail := map[string]string{"format": m.Format, "version": m.Version, "digest": m.Digest, "entities": strconv.Itoa(m.Counts.Entities)}
		if prev != nil {
			detail["previous_version"] = prev.Version
		}
		e, err := audit.Append(tx, n.auditEntry(p, ActionListImport, "list/"+m.Name, "", now.UTC(), detail))
		seq = e.Seq
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &api.ImportResponse{List: listView(res.Meta), Created: res.Created, Unchanged: res.Unchanged, Previous: res.Previous, AuditSeq: seq}
	if res.Changed {
		rs, err := n.rescreen(svc, res.List)
		if err != nil {
			// The list is imported and serving; only the alerts are missing, and the
			// next change of any list re-screens again.
			n.log.Error("re-screening after an import failed", "list", name, "err", err)
		} else {
			out.Rescreen = rs
		}
	}
	return out, nil
}

func listView(m screening.Meta) api.ListView {
	c := m.Counts
	at := m.ImportedAt
	return api.ListView{Name: m.Name, Format: m.Format, Version: m.Version, Count: c.Entities, Counts: &c, ImportedAt: &at}
}

// ScreeningLists describes every list, the imports in progress, and the consensus list.
func (n *Node) ScreeningLists(_ access.Principal) (*api.ListsResponse, error) {
	svc, err := n.screening()
	if err != nil {
		return nil, err
	}
	importing := svc.Importing()
	out := &api.ListsResponse{Lists: []api.ListView{}}
	for _, l := range svc.Snapshot().Lists() {
		v := listView(l.Meta)
		if t, ok := importing[l.Name]; ok {
			v.Importing, v.ImportStarted = true, &t
			delete(importing, l.Name)
		}
		out.Lists = append(out.Lists, v)
	}
	for name, t := range importing {
		out.Lists = append(out.Lists, api.ListView{Name: name, Importing: true, ImportStarted: &t})
	}
	slices.SortFunc(out.Lists, func(a, b api.ListView) int { return strings.Compare(a.Name, b.Name) })
	st := n.screeningState()
	st.consMu.Lock()
	applied, sealed := st.applied, st.sealed
	st.consMu.Unlock()
	c := &out.Consensus
	switch l, ok := svc.Snapshot().Get(screening.ConsensusList); {
	case n.fed.Load() == nil:
		c.Note = "this node is not part of a federation: there is no consensus watchlist to screen against"
	case ok:
		at := l.ImportedAt
		c.Available, c.Version, c.Count, c.BuiltAt = true, l.Version, l.Counts.Entities, &at
	default:
		c.Note = "no watchlist entry is listed, review-due or appealed with a party this node may open"
	}
	c.AppliedIndex, c.Sealed = applied, sealed
	return out, nil
}

// queryDigest identifies a screening request in the audit trail without its content:
// the trail is never purged, so it keeps no name of the party screened.
func queryDigest(v any) string {
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

func refsString(refs []screening.ListRef) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = r.Name + "@" + r.Version
	}
	return strings.Join(parts, " ")
}

// Screen screens one party and appends the screening to the audit trail with the list
// versions used and the hits found.
func (n *Node) Screen(p access.Principal, req screening.Request) (*api.ScreenResponse, error) {
	svc, err := n.screening()
	if err != nil {
		return nil, err
	}
	res, err := svc.Snapshot().Screen(req)
	if err != nil {
		return nil, err
	}
	var top []string
	for _, h := range res.Hits[:min(len(res.Hits), 10)] {
		top = append(top, h.List+"/"+h.EntityID)
	}
	detail := map[string]string{"lists": refsString(res.Lists), "hits": strconv.Itoa(len(res.Hits)), "names": strconv.Itoa(len(req.Names)),
		"query": queryDigest(req), "top_hits": strings.Join(top, " ")}
	now := n.now().UTC()
	var seq uint64
	if err := n.commit.Update(func(tx *bbolt.Tx) error {
		e, err := audit.Append(tx, n.auditEntry(p, ActionScreen, "screening", "", now, detail))
		seq = e.Seq
		return err
	}); err != nil {
		return nil, err
	}
	return &api.ScreenResponse{Hits: res.Hits, Lists: res.Lists, AuditSeq: seq}, nil
}

// ScreenBatch screens every line of b against one snapshot of the lists, hands each
// result to emit, and appends one audit entry for the whole batch.
func (n *Node) ScreenBatch(p access.Principal, b *screening.Batch, emit func(api.BatchLine) error) (*api.BatchSummary, error) {
	svc, err := n.screening()
	if err != nil {
		return nil, err
	}
	snap := svc.Snapshot()
	if _, err := snap.Select(b.Defaults.Lists); err != nil {
		return nil, err
	}
	sum := &api.BatchSummary{Format: b.Format, Complete: true}
	used := map[string]*screening.List{}
	var emitErr error
	for {
		it, ok := b.Next()
		if !ok {
			break
		}
		line := api.BatchLine{Line: it.Line}
		if it.Err != nil {
			line.Error = fieldDetail(it.Err)
		} else if ls, err := snap.Select(it.Req.Lists); err != nil {
			line.Error = errorDetail(err)
		} else if q, err := it.Req.Query(); err != nil {
			line.Error = errorDetail(err)
		} else if hits, err := screening.Search(ls, q); err != nil {
			line.Error = errorDetail(err)
		} else {
			line.Hits = screening.Views(hits, false)
			for _, l := range ls {
				used[l.Name] = l
			}
		}
		if emitErr = emit(line); emitErr != nil {
			sum.Complete = false
			break
		}
		sum.Lines++
		switch {
		case line.Error != nil:
			sum.Errors++
		default:
			sum.Screened++
			sum.Hits += len(line.Hits)
			if len(line.Hits) > 0 {
				sum.WithHits++
			}
		}
	}
	ls := make([]*screening.List, 0, len(used))
	for _, l := range used {
		ls = append(ls, l)
	}
	slices.SortFunc(ls, func(a, b *screening.List) int { return strings.Compare(a.Name, b.Name) })
	sum.Lists = screening.Refs(ls)
	detail := map[string]string{"format": sum.Format, "lines": strconv.Itoa(sum.Lines), "screened": strconv.Itoa(sum.Screened),
		"errors": strconv.Itoa(sum.Errors), "with_hits": strconv.Itoa(sum.WithHits), "hits": strconv.Itoa(sum.Hits),
		"lists": refsString(sum.Lists), "complete": strconv.FormatBool(sum.Complete)}
	now := n.now().UTC()
	if err := n.commit.Update(func(tx *bbolt.Tx) error {
		e, err := audit.Append(tx, n.auditEntry(p, ActionScreenBatch, "screening/batch", "", now, detail))
		sum.AuditSeq = e.Seq
		return err
	}); err != nil {
		return nil, err
	}
	return sum, emitErr
}

func fieldDetail(fe *screening.FieldError) *api.ErrorDetail {
	return &api.ErrorDetail{Status: 400, Code: "invalid_field", Field: fe.Field, Message: fe.Reason}
}

func errorDetail(err error) *api.ErrorDetail {
	var fe *screening.FieldError
	if errors.As(err, &fe) {
		return fieldDetail(fe)
	}
	return &api.ErrorDetail{Status: 500, Code: "internal", Message: "the line could not be screened"}
}

// rescreen re-screens the parties of pending national records against l, stores the
// new local alerts and audits the run.
func (n *Node) rescreen(svc *screening.Service, l *screening.List) (*api.RescreenView, error) {
	parties, recs, err := n.pendingParties()
	if err != nil {
		return nil, err
	}
	now := n.now().UTC()
	res, err := svc.Rescreen(l, parties, now, func(tx *bbolt.Tx, r *screening.RescreenResult) error {
		detail := map[string]string{"list": l.Name, "version": l.Version, "records": strconv.Itoa(recs),
			"parties": strconv.Itoa(r.Parties), "hits": strconv.Itoa(r.Hits), "alerts": strconv.Itoa(len(r.Alerts))}
		if _, err := audit.Append(tx, n.auditEntry(screeningPrincipal, ActionRescreen, "list/"+l.Name, "the list changed", now, detail)); err != nil {
			return err
		}
		// The same alerts join the node's alert feed, in the same transaction. The party's
		// name stays out of the feed: it is national, and is opened only where the record is.
		feed := make([]FeedAlert, len(r.Alerts))
		for i, a := range r.Alerts {
			feed[i] = FeedAlert{Time: a.Time, Kind: "record-match", Subject: "record/" + a.RecordID, Detail: map[string]string{
				"record_kind": a.RecordKind, "record_version": strconv.Itoa(a.RecordVersion), "party": a.Party,
				"list": a.List, "list_version": a.ListVersion, "entity_id": a.EntityID, "score": strconv.FormatFloat(a.Score, 'f', 4, 64)}}
		}
		return n.AppendLocalAlerts(tx, feed)
	})
	if err != nil {
		return nil, err
	}
	return &api.RescreenView{Records: recs, Parties: res.Parties, Hits: res.Hits, Alerts: len(res.Alerts)}, nil
}

// openField opens one field of a stored record for the node's own screening.
func (n *Node) openRecordField(st *records.Stored, name string) (json.RawMessage, bool) {
	f, ok := st.Fields[name]
	if !ok {
		return nil, false
	}
	if f.Sealed == nil {
		return f.Plain, len(f.Plain) > 0
	}
	v, err := n.ring.Open(*f.Sealed, records.EntryID(st.ID, st.Version), fieldPath(name))
	if err != nil {
		return nil, false
	}
	return v, true
}

// walkRecords calls fn with the latest version of every record of kind, a page at a time.
func (n *Node) walkRecords(kind string, fn func(*records.Stored)) error {
	cursor := ""
	for {
		var page []*records.Stored
		var next string
		if err := n.db.View(func(tx *bbolt.Tx) error {
			var err error
			page, next, err = records.List(tx, records.Filter{Kind: kind}, cursor, 1000)
			return err
		}); err != nil {
			return err
		}
		for _, st := range page {
			fn(st)
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// pendingParties returns the parties of the pending national records: licence
// applications no decision names yet, and consignments shipped less than
// consignmentWindow ago (or not yet). It also returns the number of those records.
func (n *Node) pendingParties() ([]screening.Party, int, error) {
	decided := map[string]bool{}
	if err := n.walkRecords(records.KindLicenceDecision, func(st *records.Stored) {
		if v, ok := n.openRecordField(st, "application_id"); ok {
			var id string
			if json.Unmarshal(v, &id) == nil {
				decided[id] = true
			}
		}
	}); err != nil {
		return nil, 0, err
	}
	var out []screening.Party
	recs := 0
	add := func(st *records.Stored, field string) {
		v, ok := n.openRecordField(st, field)
		if !ok {
			return
		}
		one := func(path string, p records.Party) {
			q := screening.PartyQuery(p)
			if len(q.Names) > 0 || len(q.Identifiers) > 0 {
				out = append(out, screening.Party{RecordID: st.ID, RecordKind: st.Kind, RecordVersion: st.Version, Field: path, Query: q})
			}
		}
		if field == "intermediaries" {
			var ps []records.Party
			if json.Unmarshal(v, &ps) == nil {
				for i, p := range ps {
					one(fmt.Sprintf("%s[%d]", field, i), p)
				}
			}
			return
		}
		var p records.Party
		if json.Unmarshal(v, &p) == nil {
			one(field, p)
		}
	}
	if err := n.walkRecords(records.KindLicenceApplication, func(st *records.Stored) {
		if decided[st.ID] {
			return
		}
		recs++
		for _, f := range []string{"applicant", "consignee", "end_user", "intermediaries"} {
			add(st, f)
		}
	}); err != nil {
		return nil, 0, err
	}
	cutoff := n.now().UTC().Add(-consignmentWindow).Format(time.DateOnly)
	if err := n.walkRecords(records.KindConsignment, func(st *records.Stored) {
		if v, ok := n.openRecordField(st, "shipped_on"); ok {
			var d string
			if json.Unmarshal(v, &d) == nil && d < cutoff {
				return
			}
		}
		recs++
		for _, f := range []string{"consignor", "consignee"} {
			add(st, f)
		}
	}); err != nil {
		return nil, 0, err
	}
	return out, recs, nil
}

// LocalAlerts lists local alerts newest first, with each party's name opened from its
// record as far as p may read it.
func (n *Node) LocalAlerts(p access.Principal, before uint64, limit int) (*api.LocalAlertsResponse, error) {
	svc, err := n.screening()
	if err != nil {
		return nil, err
	}
	as, err := svc.Alerts(before, limit)
	if err != nil {
		return nil, err
	}
	out := &api.LocalAlertsResponse{Alerts: make([]api.LocalAlertView, 0, len(as))}
	views := map[string]*api.RecordView{}
	for _, a := range as {
		v := api.LocalAlertView{Alert: a}
		key := records.EntryID(a.RecordID, a.RecordVersion)
		rv, seen := views[key]
		if !seen {
			if st, err := n.GetSealedRecord(p, a.RecordID, a.RecordVersion); err == nil {
				rv, _ = n.view(p, st)
			}
			views[key] = rv
		}
		v.PartyName, v.PartySealed = partyName(rv, a.Party)
		out.Alerts = append(out.Alerts, v)
	}
	if len(as) == limit {
		out.NextBefore = strconv.FormatUint(as[len(as)-1].Seq, 10)
	}
	return out, nil
}

// partyName finds the name of the party at path (end_user, intermediaries[1]) in a
// record view; sealed is set when the caller may not read it or the record is gone.
func partyName(rv *api.RecordView, path string) (name string, sealed bool) {
	if rv == nil {
		return "", true
	}
	field, idx, indexed := strings.Cut(path, "[")
	fv, ok := rv.Fields[field]
	if !ok || fv.Sealed || len(fv.Value) == 0 {
		return "", true
	}
	var p records.Party
	if indexed {
		i, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
		var ps []records.Party
		if err != nil || json.Unmarshal(fv.Value, &ps) != nil || i < 0 || i >= len(ps) {
			return "", true
		}
		p = ps[i]
	} else if json.Unmarshal(fv.Value, &p) != nil {
		return "", true
	}
	return p.Name, false
}

// maxRiskHitsPerParty bounds the hits each party contributes to an assessment.
const maxRiskHitsPerParty = 5

// alpha3 converts a country given as alpha-2 or alpha-3 (or an English name, as the lists
// write them) to alpha-3, leaving anything it does not know for the risk model to refuse
// by field.
func alpha3(c string) string {
	if a, ok := lists.CountryCode(c); ok {
		return a
	}
	return c
}

// AssessRisk screens the application's parties against every list, gathers the
// federation's indicators this node may open, and scores the application with the
// shared model at the node's clock. The assessment is audited with the list versions.
func (n *Node) AssessRisk(ctx context.Context, p access.Principal, req api.RiskRequest) (*api.RiskResponse, error) {
	svc, err := n.screening()
	if err != nil {
		return nil, err
	}
	in := risk.Input{ControlCodes: req.ControlCodes, Destination: alpha3(req.Destination), Value: req.Value, At: n.now().UTC()}
	for _, t := range req.Transit {
		in.Transit = append(in.Transit, alpha3(t))
	}
	for _, pt := range req.Parties {
		pt.Country = alpha3(pt.Country)
		in.Parties = append(in.Parties, pt)
	}
	// The request itself is checked first, so that a bad field is named before any
	// screening is done (and audited).
	if _, err := risk.Assess(in); err != nil {
		return nil, err
	}
	out := &api.RiskResponse{At: in.At, Hits: []risk.Hit{}, Lists: []screening.ListRef{}}
	ls, err := svc.Snapshot().Select(nil)
	switch {
	case errors.Is(err, screening.ErrNoLists):
		out.Warnings = append(out.Warnings, "no screening list is loaded on this node: the parties were not screened")
	case err != nil:
		return nil, err
	default:
		out.Lists = screening.Refs(ls)
		for i, pt := range in.Parties {
			q := screen.Query{Names: []string{pt.Name}, Threshold: screen.DefaultThreshold, Limit: maxRiskHitsPerParty}
			if len(pt.Country) == 3 {
				q.Countries = []string{pt.Country}
			}
			hits, err := screening.Search(ls, q)
			if err != nil {
				var fe *screening.FieldError
				if errors.As(err, &fe) {
					return nil, &screening.FieldError{Field: fmt.Sprintf("parties[%d].name", i), Reason: fe.Reason}
				}
				return nil, err
			}
			for _, h := range hits {
				in.Hits = append(in.Hits, risk.Hit{PartyRole: pt.Role, Score: h.Score, List: h.Entity.List, EntityID: h.Entity.ID,
					MatchedName: h.MatchedName, Consensus: h.Entity.List == screening.ConsensusList})
			}
		}
	}
	inds, sealed, err := n.riskIndicators(ctx)
	if err != nil {
		return nil, err
	}
	if sealed > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d federation indicators are not released to this node and were not considered", sealed))
	}
	in.Indicators = inds
	a, err := risk.Assess(in)
	if err != nil {
		var ie *risk.InputError
		if errors.As(err, &ie) && !strings.HasPrefix(ie.Field, "indicators") && !strings.HasPrefix(ie.Field, "hits") {
			return nil, err
		}
		// The node built these itself: a refusal is the node's fault, not the caller's.
		return nil, fmt.Errorf("risk model refused the node's own input: %w", err)
	}
	out.Assessment, out.Indicators = a, len(inds)
	if in.Hits != nil {
		out.Hits = in.Hits
	}
	detail := map[string]string{"score": strconv.FormatFloat(a.Score, 'f', 2, 64), "band": a.Band, "model": a.Model,
		"destination": in.Destination, "hits": strconv.Itoa(len(in.Hits)), "indicators": strconv.Itoa(len(inds)),
		"lists": refsString(out.Lists), "request": queryDigest(req)}
	if err := n.commit.Update(func(tx *bbolt.Tx) error {
		e, err := audit.Append(tx, n.auditEntry(p, ActionRiskAssess, "risk/"+in.Destination, "", in.At, detail))
		out.AuditSeq = e.Seq
		return err
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// riskIndicators returns the federation's indicators this node may open, in the risk
// model's form, and how many it could not open. Outside a federation there are none.
func (n *Node) riskIndicators(ctx context.Context) ([]risk.Indicator, int, error) {
	if n.fed.Load() == nil {
		return nil, 0, nil
	}
	views, _, err := n.Indicators(ctx, screeningPrincipal, false)
	if err != nil {
		return nil, 0, err
	}
	var out []risk.Indicator
	sealed := 0
	for _, v := range views {
		if v.Subject.Sealed || len(v.Subject.Value) == 0 {
			sealed++
			continue
		}
		var subject string
		if json.Unmarshal(v.Subject.Value, &subject) != nil {
			subject = string(v.Subject.Value)
		}
		if v.Severity < 1 || v.Severity > 5 || v.ValidUntil.IsZero() {
			continue
		}
		out = append(out, risk.Indicator{ID: v.ID, Kind: v.Kind, Subject: subject, Originator: v.Origin, Severity: v.Severity,
			Corroborations: len(v.Corroborators), ValidUntil: v.ValidUntil, Withdrawn: v.Status == "withdrawn"})
	}
	return out, sealed, nil
}
