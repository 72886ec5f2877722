package ui

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/entente/entente/federation"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/policy"
)

// pageSize is how many rows a table shows before it pages.
const pageSize = 50

// watchlistView is the watchlist page.
type watchlistView struct {
	Filter  watchlistFilter
	Options filterOptions
	Rows    []entryRow
	Total   int
	Shown   int
	Index   uint64
	Page    int
	Pages   int
	PrevURL string
	NextURL string
}

func (h *Handler) watchlist(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	f := watchlistFilter{Q: clip(q.Get("q"), 200), Kind: clip(q.Get("kind"), 64), Country: clip(q.Get("country"), 8),
		Regime: clip(q.Get("regime"), 200), Code: clip(q.Get("code"), 32), Origin: clip(q.Get("origin"), 8), Status: clip(q.Get("status"), 32)}
	es, idx, err := h.svc.Watchlist(r.Context(), v.p, "", false)
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	all := make([]entryRow, 0, len(es))
	for _, e := range es {
		all = append(all, rowOf(e))
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	view := watchlistView{Filter: f, Options: optionsOf(all), Total: len(all), Index: idx}
	for _, row := range all {
		if f.matches(row) {
			view.Rows = append(view.Rows, row)
		}
	}
	view.Shown = len(view.Rows)
	view.Page, view.Pages = pageOf(q.Get("page"), len(view.Rows))
	view.Rows = view.Rows[(view.Page-1)*pageSize : min(view.Page*pageSize, len(view.Rows))]
	if view.Page > 1 {
		view.PrevURL = withPage(r, view.Page-1)
	}
	if view.Page < view.Pages {
		view.NextURL = withPage(r, view.Page+1)
	}
	h.show(w, r, v, http.StatusOK, "watchlist", "Consensus watchlist", view, "", "")
}

// clip bounds a query value, so that a hostile URL cannot make every row compare a
// megabyte of text.
func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

func pageOf(raw string, rows int) (page, pages int) {
	pages = max(1, (rows+pageSize-1)/pageSize)
	page, err := strconv.Atoi(raw)
	if err != nil || page < 1 {
		page = 1
	}
	return min(page, pages), pages
}

func withPage(r *http.Request, page int) string {
	q := r.URL.Query()
	q.Set("page", strconv.Itoa(page))
	return r.URL.Path + "?" + q.Encode()
}

// voteRow is one vote on the entry page with its proof of origin.
type voteRow struct {
	api.VoteView
	Reason *fieldText
	Proof  *CommandProof
}

// voteForm is a form the caller may submit on an entry, with the positions it offers.
type voteForm struct {
	Kind      string // consultation, dispute, appeal
	Positions []string
	Voted     string
}

type entryView struct {
	Row         entryRow
	Appeal      *appealRow
	Votes       []voteRow
	AppealVotes []api.VoteView
	Decisions   []api.VoteView
	Proofs      []CommandProof
	Tally       *tally
	Requirement string
	Form        *voteForm
	Index       uint64
}

func (h *Handler) entry(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	e, idx, err := h.svc.WatchlistEntry(r.Context(), v.p, id, false)
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	view, err := h.entryView(r, v, e)
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	view.Index = idx
	notice := ""
	if n, err := strconv.ParseUint(r.URL.Query().Get("recorded"), 10, 64); err == nil && n > 0 {
		notice = fmt.Sprintf("Your vote was signed by %s and committed by the federation at log index %d.", h.opts.State, n)
	}
	h.show(w, r, v, http.StatusOK, "entry", "Watchlist entry "+e.ID, view, notice, "")
}

func (h *Handler) entryView(r *http.Request, v *viewer, e *api.WatchlistEntry) (*entryView, error) {
	view := &entryView{Row: rowOf(*e), Appeal: appealOf(*e), AppealVotes: e.AppealVotes, Decisions: e.Decisions}
	proofs, err := h.svc.CommandProofs(e.Commands)
	if err != nil {
		return nil, err
	}
	view.Proofs = proofs
	byIndex := map[uint64]*CommandProof{}
	for i := range proofs {
		byIndex[proofs[i].Index] = &proofs[i]
	}
	for _, vote := range e.Votes {
		vr := voteRow{VoteView: vote, Proof: byIndex[vote.Index]}
		if vote.Reason != nil {
			t := textOf(*vote.Reason)
			vr.Reason = &t
		}
		view.Votes = append(view.Votes, vr)
	}
	pol, voters, err := h.rules()
	if err != nil {
		return nil, err
	}
	now := h.opts.Now()
	switch e.Status {
	case "nominated":
		t := tallyOf(*e, voters, pol.Voting)
		view.Tally = &t
		view.Requirement = consultationRule(pol.Voting, len(voters))
		if e.WindowEnds != nil && e.WindowEnds.After(now) {
			view.Form = &voteForm{Kind: "consultation", Positions: []string{"endorse", "object"}}
			if e.Origin == h.opts.State {
				view.Form.Voted = "This state nominated the entry; its nomination counts as its endorsement."
			}
			for _, vote := range e.Votes {
				if vote.State == h.opts.State {
					view.Form.Voted = fmt.Sprintf("%s has already voted: %s.", h.opts.State, vote.Position)
				}
			}
		}
	case "disputed":
		view.Requirement = disputeRule(len(voters))
		view.Form = &voteForm{Kind: "dispute", Positions: []string{"list", "reject"}}
		for _, d := range e.Decisions {
			if d.State == h.opts.State {
				view.Form.Voted = fmt.Sprintf("%s has already decided: %s.", h.opts.State, d.Position)
			}
		}
	case "appealed":
		view.Requirement = appealRule(pol.Voting)
		view.Form = &voteForm{Kind: "appeal", Positions: []string{"delist", "uphold"}}
		for _, d := range e.AppealVotes {
			if d.State == h.opts.State {
				view.Form.Voted = fmt.Sprintf("%s has already decided: %s.", h.opts.State, d.Position)
			}
		}
	}
	if view.Form != nil && (!v.p.Allowed(policy.ActWatchlistVote) || !voters[h.opts.State] && view.Form.Kind != "consultation") {
		view.Form = nil
	}
	return view, nil
}

// rules reads the policy and the steering body (the roster's voters).
func (h *Handler) rules() (policy.Policy, map[string]bool, error) {
	pol, err := h.svc.FederationPolicy()
	if err != nil {
		return pol, nil, err
	}
	ms, err := h.svc.FederationMembers()
	if err != nil {
		return pol, nil, err
	}
	return pol, voterSet(ms), nil
}

func consultationRule(v policy.Voting, voters int) string {
	s := fmt.Sprintf("Listed when the consultation window closes if at least %d of the %d voters endorse it (the nominating state's nomination counts as its endorsement if it is a voter)", v.EndorsementsNeeded(voters), voters)
	if v.BlockingObjections {
		s += " and no voter has made a blocking objection; otherwise it is disputed and the voters decide."
	} else {
		s += "; objections are recorded but do not block. Otherwise it is disputed and the voters decide."
	}
	return s
}

func disputeRule(voters int) string {
	return fmt.Sprintf("Settled when a majority of the voters (%d of %d) take the same decision: list, or reject.", voters/2+1, voters)
}

func appealRule(v policy.Voting) string {
	return fmt.Sprintf("The voters have %s from the appeal to decide. When the appeal closes the party is delisted if more voters voted to delist than to uphold; a tie, or no votes, upholds the listing.",
		humanDuration(time.Duration(v.Appeal)))
}

// vote casts this state's vote from a form: an endorsement or objection during
// consultation, a decision on a dispute, or a decision on an appeal.
func (h *Handler) vote(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	f := r.PostForm
	req := api.VoteRequest{Position: f.Get("position"), Blocking: f.Get("blocking") == "on", Reason: strings.TrimSpace(f.Get("reason")), Marking: f.Get("marking")}
	if !slices.Contains([]string{"endorse", "object", "list", "reject", "delist", "uphold"}, req.Position) {
		h.renderError(w, r, v, http.StatusBadRequest, "Choose a position: endorse or object (or, for a dispute, list or reject; for an appeal, delist or uphold). Nothing was changed.")
		return
	}
	if req.Position != "object" {
		req.Blocking = false
	}
	if !utf8.ValidString(req.Reason) || utf8.RuneCountInString(req.Reason) > maxReason {
		h.renderError(w, r, v, http.StatusBadRequest, fmt.Sprintf("The reason must be text of at most %d characters. Nothing was changed.", maxReason))
		return
	}
	if req.Reason == "" {
		req.Marking = ""
	} else if !slices.Contains(reasonMarkings, req.Marking) {
		h.renderError(w, r, v, http.StatusBadRequest, "Choose who may read the reason from the list. Nothing was changed.")
		return
	}
	res, err := h.svc.Vote(r.Context(), v.p, id, req)
	h.voteRecorded(w, r, v, res, err, "/ui/watchlist/"+url.PathEscape(id))
}

// voteRecorded answers a vote cast from a page: the refusal or the shared rejection as an
// error page, or a redirect back to the page with the index it was recorded at.
func (h *Handler) voteRecorded(w http.ResponseWriter, r *http.Request, v *viewer, res *api.FedResult, err error, back string) {
	if err != nil {
		var ae *api.Error
		if errors.As(err, &ae) && ae.Status < 500 {
			h.renderError(w, r, v, ae.Status, "The vote was not accepted: "+ae.Msg+".")
			return
		}
		h.serviceError(w, r, v, err)
		return
	}
	if res.Rejected != "" {
		h.renderError(w, r, v, http.StatusConflict, fmt.Sprintf("The federation rejected the vote at log index %d: %s. Every member applied the same rule; nothing changed.", res.Index, res.Rejected))
		return
	}
	http.Redirect(w, r, back+"?recorded="+strconv.FormatUint(res.Index, 10), http.StatusSeeOther)
}

// reasonMarkings are the releases a vote's reason may be given from the dashboard.
var reasonMarkings = []string{"REL TO FEDERATION", "REL TO STEERING", "PUBLIC"}

// keys are a map's keys in order.
func keys[M ~map[string]V, V any](m M) []string { return slices.Sorted(maps.Keys(m)) }

// nominationRow is a nomination in consultation.
type nominationRow struct {
	Row      entryRow
	Tally    tally
	Ends     *time.Time
	TimeLeft string
	Open     bool
	Voted    string
}

type nominationsView struct {
	Rows        []nominationRow
	Requirement string
	CanVote     bool
	Markings    []string
}

func (h *Handler) nominations(w http.ResponseWriter, r *http.Request, v *viewer) {
	es, _, err := h.svc.Watchlist(r.Context(), v.p, "nominated", false)
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	pol, voters, err := h.rules()
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	now := h.opts.Now()
	view := nominationsView{Requirement: consultationRule(pol.Voting, len(voters)), CanVote: v.p.Allowed(policy.ActWatchlistVote), Markings: reasonMarkings}
	for _, e := range es {
		nr := nominationRow{Row: rowOf(e), Tally: tallyOf(e, voters, pol.Voting), Ends: e.WindowEnds}
		if e.WindowEnds != nil {
			nr.Open = e.WindowEnds.After(now)
			if nr.Open {
				nr.TimeLeft = humanDuration(e.WindowEnds.Sub(now)) + " left"
			} else {
				nr.TimeLeft = "closed; the chair is recording the outcome"
			}
		}
		if e.Origin == h.opts.State {
			nr.Voted = "nominated by " + h.opts.State
		}
		for _, vote := range e.Votes {
			if vote.State == h.opts.State {
				nr.Voted = h.opts.State + " voted: " + vote.Position
			}
		}
		view.Rows = append(view.Rows, nr)
	}
	sort.Slice(view.Rows, func(i, j int) bool {
		a, b := view.Rows[i].Ends, view.Rows[j].Ends
		if a == nil || b == nil {
			return a != nil
		}
		return a.Before(*b)
	})
	h.show(w, r, v, http.StatusOK, "nominations", "Nominations in consultation", view, "", "")
}

type caseRow struct {
	Row       entryRow
	Decisions []api.VoteView
	Counts    map[string]int
	Ends      *time.Time
	Voted     string
	Appeal    *appealRow
}

// appealRow is an appeal with its grounds as the viewer may read them.
type appealRow struct {
	By      string
	At      time.Time
	Grounds fieldText
}

func appealOf(e api.WatchlistEntry) *appealRow {
	if e.Appeal == nil {
		return nil
	}
	return &appealRow{By: e.Appeal.By, At: e.Appeal.At, Grounds: textOf(e.Appeal.Grounds)}
}

type disputesView struct {
	Disputes    []caseRow
	Appeals     []caseRow
	DisputeRule string
	AppealRule  string
	CanDecide   bool
}

func (h *Handler) disputes(w http.ResponseWriter, r *http.Request, v *viewer) {
	es, _, err := h.svc.Watchlist(r.Context(), v.p, "", false)
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	pol, voters, err := h.rules()
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	view := disputesView{DisputeRule: disputeRule(len(voters)), AppealRule: appealRule(pol.Voting),
		CanDecide: v.p.Allowed(policy.ActWatchlistVote) && voters[h.opts.State]}
	for _, e := range es {
		var ds []api.VoteView
		switch e.Status {
		case "disputed":
			ds = e.Decisions
		case "appealed":
			ds = e.AppealVotes
		default:
			continue
		}
		c := caseRow{Row: rowOf(e), Decisions: ds, Counts: map[string]int{}}
		for _, d := range ds {
			c.Counts[d.Position]++
			if d.State == h.opts.State {
				c.Voted = h.opts.State + " decided: " + d.Position
			}
		}
		if e.Status == "disputed" {
			view.Disputes = append(view.Disputes, c)
		} else {
			c.Ends, c.Appeal = e.AppealEnds, appealOf(e)
			view.Appeals = append(view.Appeals, c)
		}
	}
	h.show(w, r, v, http.StatusOK, "disputes", "Disputes and appeals", view, "", "")
}

type indicatorRow struct {
	api.IndicatorView
	SubjectText  fieldText
	EvidenceText fieldText
	Freshness    string
}

type riskFilter struct {
	Destination, Kind, Freshness string
	MinSeverity                  int
}

type riskView struct {
	Filter       riskFilter
	Destinations []string
	Kinds        []string
	Rows         []indicatorRow
	Total        int
	Trends       []trend
	Period       string
	Chart        chart
}

func (h *Handler) risk(w http.ResponseWriter, r *http.Request, v *viewer) {
	ins, _, err := h.svc.Indicators(r.Context(), v.p, false)
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	q := r.URL.Query()
	f := riskFilter{Destination: clip(q.Get("destination"), 64), Kind: clip(q.Get("kind"), 64), Freshness: clip(q.Get("freshness"), 16)}
	f.MinSeverity, _ = strconv.Atoi(q.Get("severity"))
	now := h.opts.Now()
	view := riskView{Filter: f, Total: len(ins)}
	dests, kinds := map[string]bool{}, map[string]bool{}
	for _, in := range ins {
		row := indicatorRow{IndicatorView: in, SubjectText: textOf(in.Subject), EvidenceText: textOf(in.Evidence), Freshness: freshness(in, now)}
		kinds[in.Kind] = true
		if !row.SubjectText.Sealed {
			dests[row.SubjectText.Text] = true
		}
		if f.Destination != "" && (row.SubjectText.Sealed || row.SubjectText.Text != f.Destination) ||
			f.Kind != "" && in.Kind != f.Kind || in.Severity < f.MinSeverity || f.Freshness != "" && row.Freshness != f.Freshness {
			continue
		}
		view.Rows = append(view.Rows, row)
	}
	sort.Slice(view.Rows, func(i, j int) bool {
		if view.Rows[i].Severity != view.Rows[j].Severity {
			return view.Rows[i].Severity > view.Rows[j].Severity
		}
		return view.Rows[i].Published.After(view.Rows[j].Published)
	})
	view.Destinations, view.Kinds = keys(dests), keys(kinds)
	trends, period := risingRisk(ins, now)
	view.Trends, view.Period = trends, humanDuration(period)
	var labels []string
	before := series{Name: humanDuration(period) + " ago", Class: "s-before"}
	after := series{Name: "now", Class: "s-now"}
	for _, t := range trends[:min(len(trends), 12)] {
		label := t.Destination
		if t.Rising() {
			label = "▲ " + label
		}
		labels = append(labels, label)
		before.Values = append(before.Values, float64(t.Before))
		after.Values = append(after.Values, float64(t.Now))
	}
	view.Chart = barChart("rising", "Risk by destination: now against "+humanDuration(period)+" ago",
		"Summed severity of the destination, diversion and failed end-use check indicators in force for each destination; ▲ marks rising risk.", labels, []series{before, after})
	h.show(w, r, v, http.StatusOK, "risk", "Risk indicators", view, "", "")
}

// healthView is the federation health page.
type healthView struct {
	Members    []federation.Member
	Status     *federation.Status
	Chair      string
	ChairSince time.Time
	// Exact is set when the chair's own node said when its period began; otherwise
	// ChairSince is when this dashboard first saw it, and NextAt an upper bound.
	Exact     bool
	NextChair string
	NextAt    time.Time
	Rotation  string
	Up, Down  int
}

func (h *Handler) health(w http.ResponseWriter, r *http.Request, v *viewer) {
	ms, err := h.svc.FederationMembers()
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	st, err := h.svc.FederationStatus()
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	pol, err := h.svc.FederationPolicy()
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	view := healthView{Members: ms, Status: st, Rotation: humanDuration(time.Duration(pol.Voting.ChairRotation))}
	for _, m := range ms {
		if m.Alive {
			view.Up++
		} else {
			view.Down++
		}
		if m.Leader {
			view.Chair = m.Code
			view.ChairSince, view.Exact = m.ChairSince, !m.ChairSince.IsZero()
		}
	}
	if view.Chair == "" {
		view.Chair = st.Leader
	}
	if seen := h.noteChair(view.Chair); !view.Exact {
		view.ChairSince = seen
	}
	if view.Chair != "" {
		view.NextAt = view.ChairSince.Add(time.Duration(pol.Voting.ChairRotation))
		view.NextChair = nextVoter(ms, view.Chair)
	}
	h.show(w, r, v, http.StatusOK, "health", "Federation health", view, "", "")
}

// nextVoter is the voter after chair in roster order, as the federation rotates.
func nextVoter(ms []federation.Member, chair string) string {
	var voters []string
	for _, m := range ms {
		if m.Role == policy.RoleVoter {
			voters = append(voters, m.Code)
		}
	}
	sort.Strings(voters)
	for i, c := range voters {
		if c == chair && len(voters) > 1 {
			return voters[(i+1)%len(voters)]
		}
	}
	return ""
}

// noteChair records when this node first saw chair in the chair and returns that time.
// The federation hands the chair on a rotation period after the chair's node took it;
// the dashboard can only see when it noticed, so the next rotation it shows is at the
// latest that time plus the period.
func (h *Handler) noteChair(chair string) time.Time {
	h.chairMu.Lock()
	defer h.chairMu.Unlock()
	if chair != h.chair {
		h.chair, h.chairSince = chair, h.opts.Now()
	}
	return h.chairSince
}

type auditView struct {
	Status  api.AuditStatus
	Entries []auditRow
	PrevURL string
	NextURL string
}

type auditRow struct {
	Seq                              uint64
	Time                             time.Time
	Actor, Action, Object, Rationale string
	Detail                           []string
	Hash                             string
}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request, v *viewer) {
	st, err := h.svc.VerifyAudit()
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	// The newest page by default; ?after pages from any point.
	after := uint64(0)
	if st.HeadSeq > pageSize {
		after = st.HeadSeq - pageSize
	}
	if s := r.URL.Query().Get("after"); s != "" {
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			after = n
		}
	}
	es, err := h.svc.AuditEntries(after, pageSize)
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	view := auditView{Status: st}
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		row := auditRow{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Object: e.Object, Rationale: e.Rationale, Hash: e.Hash}
		for _, k := range keys(e.Detail) {
			row.Detail = append(row.Detail, k+": "+e.Detail[k])
		}
		view.Entries = append(view.Entries, row)
	}
	if after > 0 {
		view.PrevURL = "/ui/audit?after=" + strconv.FormatUint(after-min(after, pageSize), 10)
	}
	if after+pageSize < st.HeadSeq {
		view.NextURL = "/ui/audit?after=" + strconv.FormatUint(after+pageSize, 10)
	}
	h.show(w, r, v, http.StatusOK, "audit", "Audit trail", view, "", "")
}

type policyView struct {
	Policy    policy.Policy
	Summary   []string
	Retention []struct{ Kind, Period string }
	Groups    []struct {
		Name    string
		Members string
	}
	Defaults []struct{ Kind, Field, Marking string }
	Voters   int
	// History lists the accepted amendments, newest first; Proposals the open ones.
	History   []policyChangeRow
	Proposals []policyProposalRow
	// CanVote is whether the caller may vote on amendments for this state: its role may
	// vote on membership and the state is a voter.
	CanVote bool
}

// policyChangeRow is one accepted amendment on the policy page.
type policyChangeRow struct {
	api.PolicyChange
	Changes []string
	Tally   string
}

// policyProposalRow is an open amendment on the policy page.
type policyProposalRow struct {
	api.PolicyProposal
	Changes  []string
	Tally    string
	TimeLeft string
	Open     bool
	// Voted says why this state has no form: it proposed the amendment, or voted.
	Voted string
}

func (h *Handler) policyPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	pol, voters, err := h.rules()
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	vt := pol.Voting
	view := policyView{Policy: pol, Voters: len(voters)}
	view.Summary = []string{
		consultationRule(vt, len(voters)),
		fmt.Sprintf("Members have %s from a nomination to endorse or object.", humanDuration(time.Duration(vt.Consultation))),
		disputeRule(len(voters)),
		fmt.Sprintf("A listing stands for %s; its review then falls due, and it expires %s later unless the nominating state renews it.",
			humanDuration(time.Duration(vt.Review)), humanDuration(time.Duration(vt.Grace))),
		appealRule(vt),
		fmt.Sprintf("The chair (the node that orders the federation's decisions) passes to the next voter every %s.", humanDuration(time.Duration(vt.ChairRotation))),
		fmt.Sprintf("Shared values are sealed under keys that are destroyed by period of %s once their retention ends, on every node.", humanDuration(time.Duration(pol.KeyEpoch))),
	}
	for _, k := range keys(pol.Retention) {
		view.Retention = append(view.Retention, struct{ Kind, Period string }{k, humanDuration(time.Duration(pol.Retention[k]))})
	}
	for _, k := range keys(pol.Groups) {
		view.Groups = append(view.Groups, struct {
			Name    string
			Members string
		}{k, strings.Join(pol.Groups[k], ", ")})
	}
	for _, kind := range keys(pol.FieldDefaults) {
		for _, field := range keys(pol.FieldDefaults[kind]) {
			view.Defaults = append(view.Defaults, struct{ Kind, Field, Marking string }{kind, field, pol.FieldDefaults[kind][field]})
		}
	}
	pv, err := h.svc.PolicyInForce(r.Context(), false)
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	for i := len(pv.History) - 1; i >= 0; i-- {
		c := pv.History[i]
		view.History = append(view.History, policyChangeRow{PolicyChange: c, Changes: policyChanges(c.Previous, c.Policy), Tally: voteTally(c.Proposer, c.Votes, voters)})
	}
	view.CanVote = v.p.Allowed(policy.ActMembership) && voters[h.opts.State]
	now := h.opts.Now()
	for _, pr := range pv.Proposals {
		row := policyProposalRow{PolicyProposal: pr, Changes: policyChanges(pol, pr.Policy), Tally: voteTally(pr.Proposer, pr.Votes, voters),
			Open: pr.WindowEnds.After(now)}
		if row.Open {
			row.TimeLeft = humanDuration(pr.WindowEnds.Sub(now)) + " left"
		} else {
			row.TimeLeft = "closed; the chair is recording the outcome"
		}
		if pr.Proposer == h.opts.State {
			row.Voted = h.opts.State + " proposed this amendment; its proposal counts as its endorsement"
		}
		for _, vote := range pr.Votes {
			if vote.State == h.opts.State {
				row.Voted = h.opts.State + " voted: " + vote.Position
			}
		}
		view.Proposals = append(view.Proposals, row)
	}
	notice := ""
	if n, err := strconv.ParseUint(r.URL.Query().Get("recorded"), 10, 64); err == nil && n > 0 {
		notice = fmt.Sprintf("Your vote was signed by %s and committed by the federation at log index %d.", h.opts.State, n)
	}
	h.show(w, r, v, http.StatusOK, "policy", "Federation policy", view, notice, "")
}

// voteTally says how the voters voted on an amendment, the proposer's proposal counting
// as its endorsement, as the federation counts it.
func voteTally(proposer string, votes []api.VoteView, voters map[string]bool) string {
	var endorse, object []string
	if voters[proposer] {
		endorse = append(endorse, proposer+" (proposer)")
	}
	for _, vote := range votes {
		switch {
		case vote.Position == "endorse":
			endorse = append(endorse, vote.State)
		case vote.Blocking:
			object = append(object, vote.State+" (blocking)")
		default:
			object = append(object, vote.State)
		}
	}
	s := "endorsed by " + orNone(endorse)
	return s + "; objections: " + orNone(object)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// policyChanges says in plain language what differs between two policies.
func policyChanges(from, to policy.Policy) []string {
	var out []string
	dur := func(d policy.Duration) string { return humanDuration(time.Duration(d)) }
	// moved says a period changed, exactly where rounding would make both look alike.
	moved := func(o, n policy.Duration) string {
		if dur(o) == dur(n) {
			return o.String() + " → " + n.String()
		}
		return dur(o) + " → " + dur(n)
	}
	fv, tv := from.Voting, to.Voting
	for _, d := range []struct {
		name     string
		old, new policy.Duration
	}{{"Consultation", fv.Consultation, tv.Consultation}, {"Review after", fv.Review, tv.Review}, {"Grace for renewal", fv.Grace, tv.Grace},
		{"Appeal", fv.Appeal, tv.Appeal}, {"Chair rotation", fv.ChairRotation, tv.ChairRotation}} {
		if d.old != d.new {
			out = append(out, d.name+": "+moved(d.old, d.new))
		}
	}
	quorum := func(q int) string {
		if q == 0 {
			return "a majority of the voters"
		}
		return fmt.Sprintf("%d voters", q)
	}
	if fv.Quorum != tv.Quorum {
		out = append(out, fmt.Sprintf("Quorum: %s → %s", quorum(fv.Quorum), quorum(tv.Quorum)))
	}
	if from.KeyEpoch != to.KeyEpoch {
		out = append(out, "Key period: "+moved(from.KeyEpoch, to.KeyEpoch))
	}
	if fv.BlockingObjections != tv.BlockingObjections {
		out = append(out, fmt.Sprintf("Blocking objections: %s → %s", allowed(fv.BlockingObjections), allowed(tv.BlockingObjections)))
	}
	for _, k := range slices.Sorted(maps.Keys(mergeKeys(from.Retention, to.Retention))) {
		o, ok1 := from.Retention[k]
		n, ok2 := to.Retention[k]
		switch {
		case !ok1:
			out = append(out, fmt.Sprintf("Retention of %s: set to %s", k, dur(n)))
		case !ok2:
			out = append(out, fmt.Sprintf("Retention of %s: no longer set (was %s)", k, dur(o)))
		case o != n:
			out = append(out, fmt.Sprintf("Retention of %s: %s", k, moved(o, n)))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(mergeKeys(from.Groups, to.Groups))) {
		if !slices.Equal(from.Groups[k], to.Groups[k]) {
			out = append(out, fmt.Sprintf("Group %s: %s → %s", k, orNone(from.Groups[k]), orNone(to.Groups[k])))
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(mergeKeys(from.FieldDefaults, to.FieldDefaults))) {
		for _, field := range slices.Sorted(maps.Keys(mergeKeys(from.FieldDefaults[kind], to.FieldDefaults[kind]))) {
			o, n := from.FieldDefaults[kind][field], to.FieldDefaults[kind][field]
			if o != n {
				out = append(out, fmt.Sprintf("Default marking of %s %s: %s → %s", kind, field, orNational(o), orNational(n)))
			}
		}
	}
	return out
}

func allowed(b bool) string {
	if b {
		return "allowed"
	}
	return "not allowed"
}

func orNational(m string) string {
	if m == "" {
		return "NATIONAL (no default)"
	}
	return m
}

func mergeKeys[V any](a, b map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// policyVote casts this state's vote on an open policy amendment.
func (h *Handler) policyVote(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	req := api.VoteRequest{Position: r.PostForm.Get("position"), Blocking: r.PostForm.Get("blocking") == "on"}
	if req.Position != "endorse" && req.Position != "object" {
		h.renderError(w, r, v, http.StatusBadRequest, "Choose a position: endorse or object. Nothing was changed.")
		return
	}
	if req.Position != "object" {
		req.Blocking = false
	}
	res, err := h.svc.VoteMembership(r.Context(), v.p, id, req)
	h.voteRecorded(w, r, v, res, err, "/ui/policy")
}
