package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/crypto/seal"
	"github.com/entente/entente/federation"
	"github.com/entente/entente/federation/command"
	"github.com/entente/entente/federation/gossip"
	"github.com/entente/entente/federation/state"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/records"
	"github.com/entente/entente/policy"
)

// LoadGenesis reads and validates a genesis document.
func LoadGenesis(path string) (*state.Genesis, error) {
	data, err := readBounded(path, 4<<20)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	var g state.Genesis
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	return &g, nil
}

// errNoFederation answers federation requests on a node started without a genesis.
var errNoFederation = &api.Error{Status: http.StatusServiceUnavailable, Code: "no_federation",
	Msg: "this node is not part of a federation", Hint: "start it with --genesis FILE (entente federation genesis writes one)"}

// startFederation joins the federation named by the genesis document, advertising
// apiURL to the other nodes.
func (n *Node) startFederation(apiURL string) error {
	g, err := LoadGenesis(n.cfg.Genesis)
	if err != nil {
		return err
	}
	keyPath := n.cfg.GossipKey
	if keyPath == "" {
		keyPath = filepath.Join(n.cfg.DataDir, "gossip.key")
	}
	key, err := gossip.LoadKey(keyPath)
	if err != nil {
		return fmt.Errorf("gossip_key: %w", err)
	}
	ln, err := net.Listen("tcp", n.cfg.RaftAddr)
	if err != nil {
		return fmt.Errorf("raft_addr %s: %w", n.cfg.RaftAddr, err)
	}
	host, port, _ := net.SplitHostPort(n.cfg.GossipAddr)
	gp, _ := strconv.Atoi(port)
	fc := federation.Config{
		Dir: filepath.Join(n.cfg.DataDir, "federation"), Identity: n.id, Genesis: g, RaftListener: ln,
		Gossip:    gossip.Config{BindAddr: host, BindPort: gp, AdvertiseAddr: host, AdvertisePort: gp, Key: key, Meta: gossip.Meta{APIURL: apiURL, Version: "1"}},
		Forwarder: n, Logger: n.log, Join: n.cfg.Join,
		Timing: federation.Timing{Heartbeat: n.cfg.RaftHeartbeat, Election: n.cfg.RaftHeartbeat,
			SnapshotThreshold: n.cfg.RaftSnapshotThreshold, TrailingLogs: n.cfg.RaftTrailingLogs, SnapshotInterval: n.cfg.RaftSnapshotInterval,
			Housekeeping: max(n.cfg.RaftHeartbeat, 200*time.Millisecond)},
	}
	f, err := federation.Start(fc)
	if err != nil {
		ln.Close()
		return err
	}
	n.fed.Store(f)
	n.log.Info("joined the federation", "federation", g.Federation, "raft", ln.Addr().String(), "gossip", n.cfg.GossipAddr, "members", len(g.Members))
	return nil
}

func (n *Node) federation() (*federation.Federation, error) {
	f := n.fed.Load()
	if f == nil {
		return nil, errNoFederation
	}
	return f, nil
}

// fedRoster is policy's view of the replicated roster.
func fedRoster(f *federation.Federation) policy.Roster {
	var r policy.Roster
	for _, m := range f.State().Roster() {
		r.Members = append(r.Members, policy.RosterMember{Code: m.Code, Role: m.Role})
	}
	return r
}

// directory resolves a state's age recipient: from the replicated roster once the node is
// in a federation, otherwise from the roster file.
type directory struct{ n *Node }

func (d directory) Recipient(code string) (age.Recipient, error) {
	if f := d.n.fed.Load(); f != nil {
		for _, m := range f.State().Roster() {
			if m.Code == code {
				return age.ParseX25519Recipient(m.AgeRecipient)
			}
		}
	}
	return d.n.roster.Recipient(code)
}

// sealTarget names the subject a shared value belongs to and the key epoch its retention
// ends in: the value is sealed under that subject's own data key, so that purging the
// subject can shred exactly its values (epochs.go).
type sealTarget struct {
	subject string
	epoch   uint64
}

// entryTarget is the seal target of a watchlist entry's votes and appeal: the entry's
// own retention decides when they are shredded. An entry this node has not applied yet
// is waited for with a linearizable read.
func (n *Node) entryTarget(ctx context.Context, f *federation.Federation, id string) (sealTarget, error) {
	e, ok, err := f.State().Entry(id)
	if err == nil && !ok {
		if _, err = n.readIndex(ctx, f, true); err == nil {
			e, ok, err = f.State().Entry(id)
		}
	}
	if err != nil {
		return sealTarget{}, err
	}
	if !ok {
		// The command will be rejected on every replica, but stays in the log: seal what
		// it carries for the next epoch, so it is shredded soon.
		return sealTarget{subject: "watchlist/" + id, epoch: f.State().Policy().Epoch(n.now()) + 1}, nil
	}
	return sealTarget{subject: "watchlist/" + id, epoch: subjectEpoch(f.State().Policy(), e.Kind, time.Unix(0, e.Nominated), n.now())}, nil
}

// sealShared seals value for the states marking releases it to on the replicated roster,
// refusing NATIONAL: such a value never leaves the node. It returns the field and the
// wrapped data key when the command must carry it (a key the federation has not seen).
func (n *Node) sealShared(f *federation.Federation, t sealTarget, entry, field, marking string, value []byte, newKeys map[string]seal.WrappedKey) (command.Field, error) {
	name := strings.TrimPrefix(field, "fields.") // the request names fields without the path
	m, err := policy.ParseMarking(marking)
	if err != nil {
		return command.Field{}, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "markings." + name, Msg: err.Error()}
	}
	if !policy.MayLeave(m) {
		return command.Field{}, &api.Error{Status: http.StatusBadRequest, Code: "national_field", Field: "markings." + name,
			Msg: fmt.Sprintf("%s is marked NATIONAL and may not leave this node, not even sealed", name), Hint: "mark it for the states that should read it, such as REL TO FEDERATION"}
	}
	if m.Kind == policy.Public {
		return command.Field{Marking: m.String(), Plain: value}, nil
	}
	to, err := policy.Recipients(m, fedRoster(f), f.State().Policy(), n.id.State)
	if err != nil {
		return command.Field{}, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "markings." + name, Msg: err.Error()}
	}
	s, err := n.ring.SealSubject(t.subject, t.epoch, entry, field, m.String(), to, value)
	if errors.Is(err, errEpochPending) {
		return command.Field{}, &api.Error{Status: http.StatusServiceUnavailable, Code: "key_epoch_pending", Msg: err.Error(),
			Hint: "retry shortly: member nodes publish their keys for each key epoch as they start", Err: err}
	}
	if err != nil {
		return command.Field{}, fmt.Errorf("seal %s: %w", field, err)
	}
	if _, known := f.State().Key(s.Key); !known {
		w, ok := n.ring.Key(s.Key)
		if !ok {
			return command.Field{}, fmt.Errorf("seal %s: the data key %s is not in the keyring", field, s.Key)
		}
		newKeys[w.ID] = w
	}
	return command.Field{Marking: m.String(), Sealed: &s}, nil
}

func keyList(m map[string]seal.WrappedKey) []seal.WrappedKey {
	out := make([]seal.WrappedKey, 0, len(m))
	for _, w := range m {
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b seal.WrappedKey) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// sealText seals a free-text value (a reason, grounds, evidence) for marking, REL TO
// FEDERATION when none is given.
func (n *Node) sealText(f *federation.Federation, t sealTarget, entry, field, text, marking string, keys map[string]seal.WrappedKey) (command.Field, error) {
	if marking == "" {
		marking = "REL TO FEDERATION"
	}
	val, _ := json.Marshal(text)
	return n.sealShared(f, t, entry, field, marking, val, keys)
}

// propose signs pl as this state and has the federation commit it; subject names what
// it is about in the answer.
func (n *Node) propose(ctx context.Context, p access.Principal, subject string, pl command.Payload) (*api.FedResult, error) {
	f, err := n.federation()
	if err != nil {
		return nil, err
	}
	c, err := command.New(n.id.State, pl)
	if err != nil {
		e := &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Msg: err.Error(), Err: err}
		if fe := (*command.FieldError)(nil); errors.As(err, &fe) {
			e.Field, e.Msg = fe.Field, fe.Msg
		}
		return nil, e
	}
	if err := c.Sign(n.Signer()); err != nil {
		return nil, err
	}
	res, err := f.ProposeOwn(ctx, c)
	if err != nil {
		return nil, fedError(err)
	}
	n.log.Info("federation command committed", "type", c.Type.String(), "index", res.Index, "by", p.Subject, "rejected", res.Rejected)
	return &api.FedResult{Index: res.Index, Type: res.Type.String(), Subject: subject, Rejected: res.Rejected, Alerts: res.Alerts}, nil
}

func fedError(err error) error {
	switch {
	case errors.Is(err, federation.ErrNoLeader), errors.Is(err, federation.ErrNotLeader):
		return &api.Error{Status: http.StatusServiceUnavailable, Code: "no_leader", Msg: err.Error(), Hint: "retry shortly; a leader is being elected", Err: err}
	case errors.Is(err, command.ErrInvalid), errors.Is(err, command.ErrMalformed), errors.Is(err, command.ErrSignature):
		return &api.Error{Status: http.StatusBadRequest, Code: "invalid_command", Msg: err.Error(), Err: err}
	case errors.Is(err, context.Canceled):
		return err
	}
	// The command was handed to raft or to the leader and then the answer was lost (the
	// leader died, the connection broke, leadership moved): it may have committed. Saying
	// "nothing was written" here would make a client retry into a duplicate.
	return &api.Error{Status: http.StatusServiceUnavailable, Code: "outcome_unknown",
		Msg:  "the command may or may not have committed: " + err.Error(),
		Hint: "read the subject with ?consistency=linearizable before sending it again", Err: err}
}

func newID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + idEncoding.EncodeToString(b[:])
}

// Nominate seals a nomination's fields and proposes it.
func (n *Node) Nominate(ctx context.Context, p access.Principal, req api.NominationRequest) (*api.FedResult, error) {
	f, err := n.federation()
	if err != nil {
		return nil, err
	}
	if req.ID == "" {
		req.ID = newID(n.id.State + "-N")
	}
	party, err := records.CheckParty("party", req.Party)
	if err != nil {
		return nil, err
	}
	for i, code := range req.Basis.ControlCodes {
		if req.Basis.ControlCodes[i], err = records.NormalizeControlCode(code); err != nil {
			return nil, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: fmt.Sprintf("basis.control_codes[%d]", i), Msg: err.Error()}
		}
	}
	if strings.TrimSpace(req.Basis.Regime) == "" {
		return nil, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "basis.regime", Msg: "required: name the legal basis, such as a national list or a UN regime"}
	}
	basis, _ := json.Marshal(req.Basis)
	marking := func(field, def string) string {
		if m, ok := req.Markings[field]; ok {
			return m
		}
		return def
	}
	for name := range req.Markings {
		if name != "party" && name != "basis" && name != "rationale" {
			return nil, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "markings." + name, Msg: "unknown field (party, basis or rationale)"}
		}
	}
	entry := "watchlist/" + req.ID
	target := sealTarget{subject: entry, epoch: subjectEpoch(f.State().Policy(), req.Kind, n.now(), n.now())}
	keys := map[string]seal.WrappedKey{}
	fields := map[string]command.Field{}
	values := map[string][]byte{"party": party, "basis": basis}
	defaults := map[string]string{"party": "REL TO FEDERATION", "basis": "PUBLIC", "rationale": "REL TO FEDERATION"}
	if req.Rationale != "" {
		values["rationale"], _ = json.Marshal(req.Rationale)
	}
	for _, name := range []string{"party", "basis", "rationale"} {
		v, ok := values[name]
		if !ok {
			continue
		}
		if fields[name], err = n.sealShared(f, target, entry, "fields."+name, marking(name, defaults[name]), v, keys); err != nil {
			return nil, err
		}
	}
	return n.propose(ctx, p, entry, &command.Nominate{ID: req.ID, Kind: req.Kind, Fields: fields, Keys: keyList(keys)})
}

// Vote endorses or objects to a nomination, or, when the entry is under appeal, decides
// the appeal (delist or uphold).
func (n *Node) Vote(ctx context.Context, p access.Principal, id string, req api.VoteRequest) (*api.FedResult, error) {
	f, err := n.federation()
	if err != nil {
		return nil, err
	}
	var pl command.Payload
	switch req.Position {
	case "delist", "uphold":
		pl = &command.AppealVote{Entry: id, Decision: req.Position}
	case "list", "reject":
		pl = &command.Decide{Entry: id, Decision: req.Position}
	default:
		v := &command.Vote{Entry: id, Position: req.Position, Blocking: req.Blocking}
		if req.Reason != "" {
			target, err := n.entryTarget(ctx, f, id)
			if err != nil {
				return nil, err
			}
			keys := map[string]seal.WrappedKey{}
			fld, err := n.sealText(f, target, "vote/"+id+"/"+n.id.State, "reason", req.Reason, req.Marking, keys)
			if err != nil {
				return nil, err
			}
			v.Reason, v.Keys = &fld, keyList(keys)
		}
		pl = v
	}
	return n.propose(ctx, p, "watchlist/"+id, pl)
}

// Appeal brings an appeal against a listed entry.
func (n *Node) Appeal(ctx context.Context, p access.Principal, id string, req api.AppealRequest) (*api.FedResult, error) {
	f, err := n.federation()
	if err != nil {
		return nil, err
	}
	target, err := n.entryTarget(ctx, f, id)
	if err != nil {
		return nil, err
	}
	keys := map[string]seal.WrappedKey{}
	fld, err := n.sealText(f, target, "appeal/"+id, "grounds", req.Grounds, req.Marking, keys)
	if err != nil {
		return nil, err
	}
	return n.propose(ctx, p, "watchlist/"+id, &command.Appeal{Entry: id, Grounds: fld, Keys: keyList(keys)})
}

// Renew renews this state's listing for another review period.
func (n *Node) Renew(ctx context.Context, p access.Principal, id string) (*api.FedResult, error) {
	return n.propose(ctx, p, "watchlist/"+id, &command.Renew{Entry: id})
}

// PublishIndicator seals an indicator's evidence and proposes it.
func (n *Node) PublishIndicator(ctx context.Context, p access.Principal, req api.IndicatorRequest) (*api.FedResult, error) {
	f, err := n.federation()
	if err != nil {
		return nil, err
	}
	if req.ID == "" {
		req.ID = newID(n.id.State + "-I")
	}
	if req.ValidUntil.IsZero() {
		return nil, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "valid_until", Msg: "required (RFC 3339 time)"}
	}
	entry := "indicator/" + req.ID
	// Retention runs from publication; an indicator still valid when its epoch draws to a
	// close is rewrapped like any other retained subject.
	target := sealTarget{subject: entry, epoch: subjectEpoch(f.State().Policy(), "indicator", n.now(), n.now())}
	keys := map[string]seal.WrappedKey{}
	subject, err := n.sealText(f, target, entry, "subject", req.Subject, req.SubjectMarking, keys)
	if err != nil {
		return nil, err
	}
	evidence, err := n.sealText(f, target, entry, "evidence", req.Evidence, req.EvidenceMarking, keys)
	if err != nil {
		return nil, err
	}
	return n.propose(ctx, p, entry, &command.Indicator{ID: req.ID, Kind: req.Kind, Subject: subject, Severity: req.Severity,
		Evidence: evidence, ValidUntil: req.ValidUntil.Unix(), Keys: keyList(keys)})
}

// Corroborate backs another state's indicator.
func (n *Node) Corroborate(ctx context.Context, p access.Principal, id string) (*api.FedResult, error) {
	return n.propose(ctx, p, "indicator/"+id, &command.Corroborate{Indicator: id})
}

// Withdraw withdraws this state's indicator.
func (n *Node) Withdraw(ctx context.Context, p access.Principal, id string) (*api.FedResult, error) {
	return n.propose(ctx, p, "indicator/"+id, &command.Withdraw{Indicator: id})
}

// readIndex makes a read linearizable when asked; it returns the index the read reflects.
func (n *Node) readIndex(ctx context.Context, f *federation.Federation, linearizable bool) (uint64, error) {
	if !linearizable {
		return f.State().Applied(), nil
	}
	idx, err := f.Linearize(ctx)
	if err != nil {
		return 0, fedError(err)
	}
	return idx, nil
}

// openField shows a shared field to p: opened where this state holds the key and p's role
// may read it, otherwise sealed with its marking.
func (n *Node) openField(f *federation.Federation, p access.Principal, entry, field string, fl command.Field) api.FieldView {
	v := api.FieldView{Marking: fl.Marking}
	m, err := policy.ParseMarking(fl.Marking)
	if err != nil || !policy.MayRead(p.Role, m) {
		v.Sealed = true
		return v
	}
	if fl.Sealed == nil {
		v.Value = fl.Plain
		return v
	}
	val, err := n.ring.Open(*fl.Sealed, entry, field)
	if errors.Is(err, seal.ErrNotReleased) {
		// A key this node has not seen yet: import it from the replicated state and retry.
		if w, ok := f.State().Key(fl.Sealed.Key); ok {
			if n.ring.Import(w) == nil {
				val, err = n.ring.Open(*fl.Sealed, entry, field)
			}
		}
	}
	if err != nil {
		v.Sealed = true
		return v
	}
	v.Value = val
	return v
}

func byState(a, b api.VoteView) int { return strings.Compare(a.State, b.State) }

func unix(ns int64) *time.Time {
	if ns == 0 {
		return nil
	}
	t := time.Unix(0, ns).UTC()
	return &t
}

func (n *Node) entryView(f *federation.Federation, p access.Principal, e *state.Entry) api.WatchlistEntry {
	v := api.WatchlistEntry{ID: e.ID, Kind: e.Kind, Origin: e.Origin, Status: e.Status, Fields: map[string]api.FieldView{},
		Nominated: unix(e.Nominated), WindowEnds: unix(e.WindowEnds), Decided: unix(e.Decided), ReviewDue: unix(e.ReviewDue),
		AppealEnds: unix(e.AppealEnds), Commands: e.Commands}
	if a := e.Appeal; a != nil {
		v.Appeal = &api.AppealView{By: a.By, At: time.Unix(0, a.At).UTC(), Grounds: n.openField(f, p, "appeal/"+e.ID, "grounds", a.Grounds)}
	}
	entry := "watchlist/" + e.ID
	for name, fl := range e.Fields {
		v.Fields[name] = n.openField(f, p, entry, "fields."+name, fl)
	}
	for state, vote := range e.Votes {
		vv := api.VoteView{State: state, Position: vote.Position, Blocking: vote.Blocking, At: *unix(vote.At), Index: vote.Index}
		if vote.Reason != nil {
			r := n.openField(f, p, "vote/"+e.ID+"/"+state, "reason", *vote.Reason)
			vv.Reason = &r
		}
		v.Votes = append(v.Votes, vv)
	}
	slices.SortFunc(v.Votes, byState)
	for state, d := range e.AppealVotes {
		v.AppealVotes = append(v.AppealVotes, api.VoteView{State: state, Position: d})
	}
	slices.SortFunc(v.AppealVotes, byState)
	for state, d := range e.Decisions {
		v.Decisions = append(v.Decisions, api.VoteView{State: state, Position: d})
	}
	slices.SortFunc(v.Decisions, byState)
	return v
}

// Watchlist lists the consensus watchlist (one status, or all), opened for p.
func (n *Node) Watchlist(ctx context.Context, p access.Principal, status string, linearizable bool) ([]api.WatchlistEntry, uint64, error) {
	f, err := n.federation()
	if err != nil {
		return nil, 0, err
	}
	idx, err := n.readIndex(ctx, f, linearizable)
	if err != nil {
		return nil, 0, err
	}
	es, err := f.State().Entries(status)
	if err != nil {
		return nil, 0, err
	}
	out := make([]api.WatchlistEntry, 0, len(es))
	for _, e := range es {
		out = append(out, n.entryView(f, p, e))
	}
	return out, idx, nil
}

// WatchlistEntry returns one entry, opened for p.
func (n *Node) WatchlistEntry(ctx context.Context, p access.Principal, id string, linearizable bool) (*api.WatchlistEntry, uint64, error) {
	f, err := n.federation()
	if err != nil {
		return nil, 0, err
	}
	idx, err := n.readIndex(ctx, f, linearizable)
	if err != nil {
		return nil, 0, err
	}
	e, ok, err := f.State().Entry(id)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, &api.Error{Status: http.StatusNotFound, Code: "not_found", Field: "id", Msg: "no watchlist entry with that id", Hint: "list entries with GET /v1/watchlist"}
	}
	v := n.entryView(f, p, e)
	return &v, idx, nil
}

// Indicators lists the risk indicators, opened for p.
// indicatorView shows an indicator to p, each sealed field opened where p may read it.
func (n *Node) indicatorView(f *federation.Federation, p access.Principal, in *state.Indicator) api.IndicatorView {
	entry := "indicator/" + in.ID
	v := api.IndicatorView{ID: in.ID, Kind: in.Kind, Origin: in.Origin, Severity: in.Severity, Status: in.Status,
		Subject: n.openField(f, p, entry, "subject", in.Subject), Evidence: n.openField(f, p, entry, "evidence", in.Evidence),
		Published: *unix(in.Published), ValidUntil: *unix(in.ValidUntil)}
	for s := range in.Corroborators {
		v.Corroborators = append(v.Corroborators, s)
	}
	slices.Sort(v.Corroborators)
	return v
}

func (n *Node) Indicators(ctx context.Context, p access.Principal, linearizable bool) ([]api.IndicatorView, uint64, error) {
	f, err := n.federation()
	if err != nil {
		return nil, 0, err
	}
	idx, err := n.readIndex(ctx, f, linearizable)
	if err != nil {
		return nil, 0, err
	}
	ins, err := f.State().Indicators()
	if err != nil {
		return nil, 0, err
	}
	out := make([]api.IndicatorView, 0, len(ins))
	for _, in := range ins {
		out = append(out, n.indicatorView(f, p, in))
	}
	return out, idx, nil
}

// FederationMembers lists the roster with gossip liveness, and each reachable member's
// raft role and index lag as its own node reports them.
func (n *Node) FederationMembers() ([]federation.Member, error) {
	f, err := n.federation()
	if err != nil {
		return nil, err
	}
	ms := f.Members()
	roster := map[string]state.Member{}
	for _, m := range f.State().Roster() {
		roster[m.Code] = m
	}
	var wg sync.WaitGroup
	for i := range ms {
		m := &ms[i]
		if m.Code == n.id.State {
			s := f.Status()
			m.RaftRole, m.Applied, m.ChairSince = s.Role, s.Applied, s.ChairSince
			continue
		}
		if !m.Alive || m.APIURL == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			rm := roster[m.Code]
			rm.APIURL = m.APIURL
			var s federation.Status
			if err := n.peerCall(ctx, http.MethodGet, rm, "/v1/federation/peer-status", nil, &s); err == nil {
				m.RaftRole, m.Applied, m.ChairSince = s.Role, s.Applied, s.ChairSince
			}
		}()
	}
	wg.Wait()
	var top uint64
	for _, m := range ms {
		top = max(top, m.Applied)
	}
	for i := range ms {
		if ms[i].RaftRole != "" {
			ms[i].Lag = top - ms[i].Applied
		}
	}
	return ms, nil
}

// FederationStatus is this node's view of the federation.
func (n *Node) FederationStatus() (*federation.Status, error) {
	f, err := n.federation()
	if err != nil {
		return nil, err
	}
	s := f.Status()
	return &s, nil
}

// RotateChair hands the chair to the next voter now.
func (n *Node) RotateChair(ctx context.Context, p access.Principal) (string, error) {
	f, err := n.federation()
	if err != nil {
		return "", err
	}
	to, err := f.RotateChair()
	if err != nil {
		return "", fedError(err)
	}
	n.log.Info("chair handed on by request", "to", to, "by", p.Subject)
	return to, nil
}

// PeerState returns the roster state a TLS client certificate belongs to.
func (n *Node) PeerState(pin string) (string, bool) {
	f := n.fed.Load()
	if f == nil {
		return "", false
	}
	for _, m := range f.State().Roster() {
		if m.TLSPin == pin {
			return m.Code, true
		}
	}
	return "", false
}

// AcceptForwarded applies a command a follower forwarded to this leader.
func (n *Node) AcceptForwarded(ctx context.Context, raw []byte) (*state.Result, error) {
	f, err := n.federation()
	if err != nil {
		return nil, err
	}
	res, err := f.AcceptForwarded(ctx, raw)
	if err != nil {
		return nil, fedError(err)
	}
	return res, nil
}

// LeaderReadIndex is the leader's answer to a follower's linearizable read.
func (n *Node) LeaderReadIndex(ctx context.Context) (uint64, error) {
	f, err := n.federation()
	if err != nil {
		return 0, err
	}
	idx, err := f.ReadIndex(ctx)
	if err != nil {
		return 0, fedError(err)
	}
	return idx, nil
}

// Forward implements federation.Forwarder: it posts the signed command to the leader's
// API over mutual TLS (this node's certificate, the leader's pinned), and accepts the
// answer only with the leader's signature.
func (n *Node) Forward(ctx context.Context, leader state.Member, raw []byte) (*state.Result, error) {
	var res state.Result
	if err := n.peerCall(ctx, http.MethodPost, leader, "/v1/federation/forward", raw, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// ReadIndex implements federation.Forwarder.
func (n *Node) ReadIndex(ctx context.Context, leader state.Member) (uint64, error) {
	var out struct {
		Index uint64 `json:"index"`
	}
	if err := n.peerCall(ctx, http.MethodPost, leader, "/v1/federation/read-index", nil, &out); err != nil {
		return 0, err
	}
	return out.Index, nil
}

func (n *Node) peerCall(ctx context.Context, method string, leader state.Member, path string, body []byte, out any) error {
	if leader.APIURL == "" {
		return fmt.Errorf("%w: the leader %s has not announced its API", federation.ErrNoLeader, leader.Code)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(leader.APIURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := n.peerClient(leader).Do(req)
	if err != nil {
		return fmt.Errorf("forward to the leader %s: %w", leader.Code, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	// The answer came over mutual TLS pinned to the leader's roster certificate, which
	// already proves it is the leader's; the JWS on it is for integrators, who keep
	// responses and check them offline, so it is not checked a second time here.
	if resp.StatusCode != http.StatusOK {
		var eb api.ErrorBody
		_ = json.Unmarshal(data, &eb)
		if eb.Error.Code == "no_leader" || resp.StatusCode == http.StatusServiceUnavailable {
			return federation.ErrNotLeader
		}
		return fmt.Errorf("the leader %s refused: %s", leader.Code, eb.Error.Message)
	}
	return json.Unmarshal(data, out)
}

// peerClient is a keep-alive client for one member's API, pinned to its roster
// certificate and presenting this node's; one per pin, so forwarded writes do not pay a
// TLS handshake each.
func (n *Node) peerClient(m state.Member) *http.Client {
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	if c, ok := n.peers[m.TLSPin]; ok {
		return c
	}
	want, code := m.TLSPin, m.Code
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second, TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{n.id.TLS},
		// The member's certificate is self-signed; its roster pin replaces chain validation.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || identity.Pin(cs.PeerCertificates[0]) != want {
				return fmt.Errorf("the certificate does not match %s's roster pin", code)
			}
			return nil
		}}}
	if n.peers == nil {
		n.peers = map[string]*http.Client{}
	}
	c := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	n.peers[m.TLSPin] = c
	return c
}

// GenerateGossipKey writes a new federation gossip key file (0600).
func GenerateGossipKey(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return gossip.GenerateKey(path)
}

// BuildGenesis founds a federation from the member cards: voters are the steering body,
// observers observe, everyone else is a member. Every card must carry its node's cluster
// and gossip addresses.
func BuildGenesis(name string, cards []identity.Card, voters, observers []string, pol policy.Policy) (*state.Genesis, error) {
	g := &state.Genesis{Federation: name, Policy: pol}
	role := map[string]policy.MemberRole{}
	for _, v := range voters {
		role[v] = policy.RoleVoter
	}
	for _, o := range observers {
		if role[o] != "" {
			return nil, fmt.Errorf("%s is listed as a voter and an observer", o)
		}
		role[o] = policy.RoleObserver
	}
	seen := map[string]bool{}
	for i, c := range cards {
		if c.RaftAddr == "" || c.GossipAddr == "" {
			return nil, fmt.Errorf("member card %d (%s) has no raft_addr or gossip_addr; recreate it with entente init --raft-addr --gossip-addr", i+1, c.State)
		}
		seen[c.State] = true
		pub, err := c.SigningKey()
		if err != nil {
			return nil, fmt.Errorf("member card %s: %w", c.State, err)
		}
		ks := jws.NewKeySet()
		ks.Add(pub)
		kb, _ := ks.MarshalJSON()
		r := role[c.State]
		if r == "" {
			r = policy.RoleMember
		}
		g.Members = append(g.Members, state.Member{Code: c.State, Role: r, SigningKeys: kb, AgeRecipient: c.AgeRecipient,
			TLSPin: c.TLSPin, RaftAddr: c.RaftAddr, GossipAddr: c.GossipAddr, APIURL: "https://" + c.APIAddr})
	}
	for code := range role {
		if !seen[code] {
			return nil, fmt.Errorf("%s is named as a voter or observer but has no member card", code)
		}
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return g, nil
}

// ProposeAdmission proposes to admit the state whose member card is given.
func (n *Node) ProposeAdmission(ctx context.Context, p access.Principal, req api.AdmissionRequest) (*api.FedResult, error) {
	card, err := identity.ParseCard(req.Card)
	if err != nil {
		return nil, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "card", Msg: err.Error()}
	}
	if err := policy.ValidStateCode(card.State); err != nil {
		return nil, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "card.state", Msg: err.Error()}
	}
	if card.RaftAddr == "" || card.GossipAddr == "" {
		return nil, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "card", Msg: "the card has no raft_addr or gossip_addr", Hint: "recreate it with entente init --raft-addr --gossip-addr"}
	}
	pub, err := card.SigningKey()
	if err != nil {
		return nil, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "card.signing_jwk", Msg: err.Error()}
	}
	ks := jws.NewKeySet()
	ks.Add(pub)
	kb, _ := ks.MarshalJSON()
	role := req.Role
	if role == "" {
		role = string(policy.RoleMember)
	}
	if req.ID == "" {
		req.ID = newID(n.id.State + "-M")
	}
	mc := &command.MemberCard{Code: card.State, Role: role, SigningKeys: kb, AgeRecipient: card.AgeRecipient, TLSPin: card.TLSPin,
		RaftAddr: card.RaftAddr, GossipAddr: card.GossipAddr, APIURL: "https://" + card.APIAddr}
	return n.propose(ctx, p, "membership/"+req.ID, &command.Membership{ID: req.ID, Action: "admit", Member: mc})
}

// ProposeRemoval proposes to remove a state from the federation.
func (n *Node) ProposeRemoval(ctx context.Context, p access.Principal, req api.RemovalRequest) (*api.FedResult, error) {
	if req.ID == "" {
		req.ID = newID(n.id.State + "-M")
	}
	return n.propose(ctx, p, "membership/"+req.ID, &command.Membership{ID: req.ID, Action: "remove", State: req.State})
}

// VoteMembership is this state's position on a membership proposal.
func (n *Node) VoteMembership(ctx context.Context, p access.Principal, id string, req api.VoteRequest) (*api.FedResult, error) {
	return n.propose(ctx, p, "membership/"+id, &command.MemberVote{Proposal: id, Position: req.Position, Blocking: req.Blocking})
}

// Proposals lists the membership proposals.
func (n *Node) Proposals() ([]*state.Proposal, error) {
	f, err := n.federation()
	if err != nil {
		return nil, err
	}
	return f.State().Proposals()
}

// ProposePolicy proposes an amendment of the federation policy. The proposed policy is
// read strictly (an unknown setting is refused, not ignored) and checked here against
// the policy in force, so that a caller learns at once which field to correct; every
// replica checks it again when it applies the proposal, and when the voters decide it.
func (n *Node) ProposePolicy(ctx context.Context, p access.Principal, req api.PolicyProposalRequest) (*api.FedResult, error) {
	f, err := n.federation()
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(req.Policy)) == 0 || string(bytes.TrimSpace(req.Policy)) == "null" {
		return nil, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "policy", Msg: "required: the complete proposed federation policy",
			Hint: "start from the policy in force: GET /v1/federation/policy"}
	}
	var pol policy.Policy
	dec := json.NewDecoder(bytes.NewReader(req.Policy))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pol); err != nil {
		return nil, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "policy", Msg: err.Error(),
			Hint: "send the policy in the form GET /v1/federation/policy returns it"}
	}
	req.Summary = strings.TrimSpace(req.Summary)
	pl := &command.Membership{ID: req.ID, Action: state.ActionPolicy, Policy: &pol, Summary: req.Summary}
	if pl.ID == "" {
		pl.ID = newID(n.id.State + "-P")
	}
	if err := pl.Validate(); err == nil {
		err = command.CheckAmendment(f.State().Policy(), pol)
		if fe := (*command.FieldError)(nil); errors.As(err, &fe) {
			return nil, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: fe.Field, Msg: fe.Msg, Err: err}
		}
	}
	return n.propose(ctx, p, "membership/"+pl.ID, pl)
}

// PolicyInForce is the federation policy in force, its change history and the open
// amendments, as of this node's applied index (or the leader's, when linearizable).
func (n *Node) PolicyInForce(ctx context.Context, linearizable bool) (*api.PolicyView, error) {
	f, err := n.federation()
	if err != nil {
		return nil, err
	}
	idx, err := n.readIndex(ctx, f, linearizable)
	if err != nil {
		return nil, err
	}
	st := f.State()
	// Read the history first: a change applied in between then shows in the policy and
	// is at worst missing from the history, never the other way round.
	hist, err := st.PolicyHistory()
	if err != nil {
		return nil, err
	}
	ps, err := st.Proposals()
	if err != nil {
		return nil, err
	}
	v := &api.PolicyView{Policy: st.Policy(), History: []api.PolicyChange{}, Proposals: []api.PolicyProposal{}, Index: idx}
	for _, h := range hist {
		v.History = append(v.History, api.PolicyChange{Index: h.Index, Time: *unix(h.Time), Proposal: h.Proposal, Proposer: h.Proposer,
			Summary: h.Summary, Votes: voteViews(h.Votes), Previous: h.Previous, Policy: h.Policy})
		v.Since = h.Index
	}
	for _, pr := range ps {
		if pr.Action != state.ActionPolicy || pr.Status != state.ProposalOpen || pr.Policy == nil {
			continue
		}
		v.Proposals = append(v.Proposals, api.PolicyProposal{ID: pr.ID, Proposer: pr.Origin, Summary: pr.Summary,
			Opened: *unix(pr.Opened), WindowEnds: *unix(pr.WindowEnds), Votes: voteViews(pr.Votes), Policy: *pr.Policy})
	}
	slices.SortFunc(v.Proposals, func(a, b api.PolicyProposal) int { return a.WindowEnds.Compare(b.WindowEnds) })
	return v, nil
}

func voteViews(votes map[string]state.Vote) []api.VoteView {
	out := make([]api.VoteView, 0, len(votes))
	for st, vote := range votes {
		out = append(out, api.VoteView{State: st, Position: vote.Position, Blocking: vote.Blocking, At: *unix(vote.At), Index: vote.Index})
	}
	slices.SortFunc(out, byState)
	return out
}
