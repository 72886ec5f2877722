package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/crypto/seal"
	"github.com/entente/entente/federation/command"
	"github.com/entente/entente/federation/internal/crashpoint"
	"github.com/entente/entente/policy"
)

// rejection is a rule a command broke; it is recorded, and changes nothing else.
type rejection struct{ reason string }

func (r *rejection) Error() string { return r.reason }

func reject(format string, args ...any) error { return &rejection{fmt.Sprintf(format, args...)} }

// Apply applies the committed log entry at index. It panics when the entry's framing does
// not decode or the state file cannot be written: replicas would diverge, so the node must
// stop loudly rather than go on.
func (s *State) Apply(index uint64, data []byte) *Result {
	return s.ApplyBatch([]Committed{{Index: index, Data: data}})[0]
}

// Committed is one committed log entry.
type Committed struct {
	Index uint64
	Data  []byte
}

// ApplyBatch applies committed entries in order, in one transaction: one commit and one
// fsync for the whole batch. That is safe because no rule writes anything before it
// decides to reject, so a rejected entry leaves the shared transaction as it found it.
func (s *State) ApplyBatch(entries []Committed) []*Result {
	type decoded struct {
		e command.Entry
		c *command.Command
	}
	ds := make([]decoded, len(entries))
	for i, en := range entries {
		e, err := command.UnmarshalEntry(en.Data)
		if err != nil {
			panic(fmt.Sprintf("state: log entry %d does not decode: %v", en.Index, err))
		}
		c, err := command.Unmarshal(e.Command)
		if err != nil {
			panic(fmt.Sprintf("state: command at log entry %d does not decode: %v", en.Index, err))
		}
		ds[i] = decoded{e, c}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	results := make([]*Result, len(entries))
	err := s.db.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bMeta)
		applied, now := getU64(meta, kApplied), int64(getU64(meta, kNow))
		for i, en := range entries {
			d := ds[i]
			res := &Result{Index: en.Index, Type: d.c.Type, Origin: d.c.Origin}
			results[i] = res
			if en.Index <= applied {
				res.Skipped = true // already applied before a restart
				continue
			}
			now = max(now, d.e.Stamp)
			a := &applier{s: s, tx: tx, index: en.Index, now: now, c: d.c, res: res}
			if err := a.apply(); err != nil {
				var rj *rejection
				if !errors.As(err, &rj) {
					return err
				}
				res.Rejected, res.Alerts = rj.reason, nil
				if err := tx.Bucket(bResults).Put(u64key(en.Index), []byte(rj.reason)); err != nil {
					return err
				}
			}
			applied = en.Index
		}
		if err := putU64(meta, kNow, uint64(now)); err != nil {
			return err
		}
		if err := putU64(meta, kApplied, applied); err != nil {
			return err
		}
		crashpoint.Hit(crashpoint.StateBeforeCommit)
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("state: applying log entries %d-%d: %v", entries[0].Index, entries[len(entries)-1].Index, err))
	}
	crashpoint.Hit(crashpoint.StateAfterCommit)
	return results
}

// applier carries one command through its rules.
type applier struct {
	s     *State
	tx    *bbolt.Tx
	index uint64
	now   int64
	c     *command.Command
	res   *Result
	// purged is set when the command removed its subject from the state.
	purged bool
}

func (a *applier) alert(kind, subject string) error {
	al := Alert{Index: a.index, Time: a.now, Kind: kind, Subject: subject, Origin: a.c.Origin}
	a.res.Alerts = append(a.res.Alerts, al)
	b, _ := json.Marshal(al)
	// One command may raise several alerts; the key orders them within the index.
	key := append(u64key(a.index), byte(len(a.res.Alerts)))
	return a.tx.Bucket(bAlerts).Put(key, b)
}

func (a *applier) member() (Member, error) {
	m, ok := a.s.roster[a.c.Origin]
	if !ok {
		return Member{}, reject("%s is not a member of the federation", a.c.Origin)
	}
	return m, nil
}

func (a *applier) voters() int {
	n := 0
	for _, m := range a.s.roster {
		if m.Role == policy.RoleVoter {
			n++
		}
	}
	return n
}

func (a *applier) apply() error {
	if _, err := a.member(); err != nil {
		return err
	}
	if _, err := a.c.Verify(a.s.keysets[a.c.Origin]); err != nil {
		return reject("%v", err)
	}
	p, err := command.Decode(a.c)
	if err != nil {
		return reject("%v", err)
	}
	raw, err := a.c.Marshal()
	if err != nil {
		return reject("%v", err)
	}
	if err := sealedKeysRule(a.c.Origin, p, func(id string) []byte { return a.tx.Bucket(bKeys).Get([]byte(id)) }); err != nil {
		return err
	}
	if err := a.dispatch(p); err != nil {
		return err
	}
	if a.purged {
		return nil // the command purged its subject, and with it the subject's commands
	}
	return a.tx.Bucket(bCommands).Put(u64key(a.index), raw)
}

// dispatch applies p's rules. Every rule is checked before anything is written, so a
// rejection leaves the transaction untouched and entries can share one transaction.
func (a *applier) dispatch(p command.Payload) error {
	switch p := p.(type) {
	case *command.Nominate:
		return a.nominate(p)
	case *command.Vote:
		return a.vote(p)
	case *command.Appeal:
		return a.appeal(p)
	case *command.AppealVote:
		return a.appealVote(p)
	case *command.Renew:
		return a.renew(p)
	case *command.Transition:
		return a.transition(p)
	case *command.Indicator:
		return a.indicator(p)
	case *command.Corroborate:
		return a.corroborate(p)
	case *command.Withdraw:
		return a.withdraw(p)
	case *command.EpochKey:
		return a.epochKey(p)
	case *command.Membership:
		return a.membership(p)
	case *command.MemberVote:
		return a.memberVote(p)
	case *command.Rewrap:
		return a.rewrap(p)
	case *command.Decide:
		return a.decide(p)
	}
	return reject("command type %s has no rules", a.c.Type)
}

func (a *applier) getEntry(id string) (*Entry, error) {
	v := a.tx.Bucket(bEntries).Get([]byte(id))
	if v == nil {
		return nil, reject("no watchlist entry %s", id)
	}
	var e Entry
	if err := json.Unmarshal(v, &e); err != nil {
		return nil, fmt.Errorf("state: entry %s: %w", id, err)
	}
	return &e, nil
}

func (a *applier) putEntry(e *Entry) error {
	e.Commands = append(e.Commands, a.index)
	at, to := entryDeadline(e, a.s.pol)
	if err := a.reschedule("watchlist/"+e.ID, &e.DeadlineAt, &e.DeadlineTo, at, to); err != nil {
		return err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return a.tx.Bucket(bEntries).Put([]byte(e.ID), b)
}

func (a *applier) vote(p *command.Vote) error {
	m, _ := a.member()
	if m.Role == policy.RoleObserver {
		return reject("%s is an observer and does not vote", m.Code)
	}
	e, err := a.getEntry(p.Entry)
	if err != nil {
		return err
	}
	if e.Status != StatusNominated {
		return reject("entry %s is %s, not in consultation", e.ID, e.Status)
	}
	if a.now >= e.WindowEnds {
		return reject("the consultation window for %s closed at %s", e.ID, stamp(e.WindowEnds))
	}
	if e.Origin == a.c.Origin {
		return reject("%s nominated %s and does not vote on its own nomination", a.c.Origin, e.ID)
	}
	if _, dup := e.Votes[a.c.Origin]; dup {
		return reject("%s has already voted on %s", a.c.Origin, e.ID)
	}
	if err := a.storeKeys(p.Keys, "watchlist/"+e.ID); err != nil {
		return err
	}
	if e.Votes == nil {
		e.Votes = map[string]Vote{}
	}
	e.Votes[a.c.Origin] = Vote{Position: p.Position, Blocking: p.Blocking, Reason: p.Reason, At: a.now, Index: a.index}
	kind := "endorsement"
	if p.Position == "object" {
		kind = "objection"
	}
	if err := a.putEntry(e); err != nil {
		return err
	}
	return a.alert(kind, "watchlist/"+e.ID)
}

func (a *applier) nominate(p *command.Nominate) error {
	m, _ := a.member()
	if m.Role == policy.RoleObserver {
		return reject("%s is an observer and cannot nominate", m.Code)
	}
	if a.tx.Bucket(bEntries).Get([]byte(p.ID)) != nil {
		return reject("watchlist entry %s already exists", p.ID)
	}
	if err := a.storeKeys(p.Keys, "watchlist/"+p.ID); err != nil {
		return err
	}
	window := time.Duration(a.s.pol.Voting.Consultation).Nanoseconds()
	e := &Entry{ID: p.ID, Kind: p.Kind, Origin: a.c.Origin, Status: StatusNominated, Fields: p.Fields,
		Nominated: a.now, WindowEnds: a.now + window}
	if err := a.putEntry(e); err != nil {
		return err
	}
	return a.alert("nominated", "watchlist/"+e.ID)
}

func (a *applier) appeal(p *command.Appeal) error {
	m, _ := a.member()
	if m.Role == policy.RoleObserver {
		return reject("%s is an observer and cannot appeal", m.Code)
	}
	e, err := a.getEntry(p.Entry)
	if err != nil {
		return err
	}
	if e.Status != StatusListed && e.Status != StatusReviewDue {
		return reject("entry %s is %s; only a listed entry can be appealed", e.ID, e.Status)
	}
	if err := a.storeKeys(p.Keys, "watchlist/"+e.ID); err != nil {
		return err
	}
	e.Status = StatusAppealed
	e.Appeal = &AppealRecord{By: a.c.Origin, Grounds: p.Grounds, At: a.now}
	e.AppealVotes = nil
	e.AppealEnds = a.now + time.Duration(a.s.pol.Voting.Appeal).Nanoseconds()
	if err := a.putEntry(e); err != nil {
		return err
	}
	return a.alert("appeal", "watchlist/"+e.ID)
}

func (a *applier) appealVote(p *command.AppealVote) error {
	m, _ := a.member()
	if m.Role != policy.RoleVoter {
		return reject("%s is not a voter; appeals are decided by the steering body", m.Code)
	}
	e, err := a.getEntry(p.Entry)
	if err != nil {
		return err
	}
	if e.Status != StatusAppealed {
		return reject("entry %s is %s, not under appeal", e.ID, e.Status)
	}
	if a.now >= e.AppealEnds {
		return reject("the appeal on %s closed at %s", e.ID, stamp(e.AppealEnds))
	}
	if _, dup := e.AppealVotes[a.c.Origin]; dup {
		return reject("%s has already decided on the appeal on %s", a.c.Origin, e.ID)
	}
	if e.AppealVotes == nil {
		e.AppealVotes = map[string]string{}
	}
	e.AppealVotes[a.c.Origin] = p.Decision
	if err := a.putEntry(e); err != nil {
		return err
	}
	return a.alert("appeal-vote", "watchlist/"+e.ID)
}

// decide records a voter's decision on a disputed nomination. As soon as more than half
// of the roster's voters have decided the same way, the entry is listed or rejected: no
// deadline is needed, and a decision cannot be reached twice.
func (a *applier) decide(p *command.Decide) error {
	m, _ := a.member()
	if m.Role != policy.RoleVoter {
		return reject("%s is not a voter; disputes are decided by the steering body", m.Code)
	}
	e, err := a.getEntry(p.Entry)
	if err != nil {
		return err
	}
	if e.Status != StatusDisputed {
		return reject("entry %s is %s, not disputed", e.ID, e.Status)
	}
	if _, dup := e.Decisions[a.c.Origin]; dup {
		return reject("%s has already decided on %s", a.c.Origin, e.ID)
	}
	if e.Decisions == nil {
		e.Decisions = map[string]string{}
	}
	e.Decisions[a.c.Origin] = p.Decision
	voters, same := a.voters(), 0
	for _, d := range e.Decisions {
		if d == p.Decision {
			same++
		}
	}
	alert := "decision"
	if 2*same > voters {
		e.Decided = a.now
		if p.Decision == "list" {
			e.Status, e.ReviewDue = StatusListed, a.now+time.Duration(a.s.pol.Voting.Review).Nanoseconds()
			alert = "listed"
		} else {
			e.Status, e.Ended = StatusRejected, a.now
			alert = "rejected"
		}
	}
	if err := a.putEntry(e); err != nil {
		return err
	}
	return a.alert(alert, "watchlist/"+e.ID)
}

func (a *applier) renew(p *command.Renew) error {
	e, err := a.getEntry(p.Entry)
	if err != nil {
		return err
	}
	if e.Origin != a.c.Origin {
		return reject("only %s, which nominated %s, can renew it", e.Origin, e.ID)
	}
	if e.Status != StatusListed && e.Status != StatusReviewDue {
		return reject("entry %s is %s; only a listed entry can be renewed", e.ID, e.Status)
	}
	e.Status = StatusListed
	e.ReviewDue = a.now + time.Duration(a.s.pol.Voting.Review).Nanoseconds()
	if err := a.putEntry(e); err != nil {
		return err
	}
	return a.alert("renewed", "watchlist/"+e.ID)
}

// transition applies a deadline. Any member may propose it (in practice the leader does);
// it takes effect only when the deadline has passed by the stamped time.
func (a *applier) transition(p *command.Transition) error {
	kind, id, _ := cutSubject(p.Subject)
	switch kind {
	case "indicator":
		return a.indicatorTransition(id, p.To)
	case "membership":
		return a.membershipTransition(id, p.To)
	}
	e, err := a.getEntry(id)
	if err != nil {
		return err
	}
	due := func(at int64, what string) error {
		if a.now < at {
			return reject("%s of %s is not due until %s", what, e.ID, stamp(at))
		}
		return nil
	}
	v := a.s.pol.Voting
	switch {
	case p.To == "closed" && e.Status == StatusNominated:
		if err := due(e.WindowEnds, "the consultation"); err != nil {
			return err
		}
		endorse, blocking := 0, 0
		if a.s.roster[e.Origin].Role == policy.RoleVoter {
			endorse++ // the nomination is its originator's endorsement
		}
		for state, vote := range e.Votes {
			if a.s.roster[state].Role != policy.RoleVoter {
				continue
			}
			if vote.Position == "endorse" {
				endorse++
			} else if vote.Blocking {
				blocking++
			}
		}
		e.Decided = a.now
		if v.Listed(endorse, blocking, a.voters()) {
			e.Status = StatusListed
			e.ReviewDue = a.now + time.Duration(v.Review).Nanoseconds()
		} else {
			e.Status = StatusDisputed
		}
	case p.To == "review-due" && e.Status == StatusListed:
		if err := due(e.ReviewDue, "the review"); err != nil {
			return err
		}
		e.Status = StatusReviewDue
	case p.To == "appeal-closed" && e.Status == StatusAppealed:
		if err := due(e.AppealEnds, "the appeal"); err != nil {
			return err
		}
		delist, uphold := 0, 0
		for _, d := range e.AppealVotes {
			if d == "delist" {
				delist++
			} else {
				uphold++
			}
		}
		if v.Delisted(delist, uphold) {
			e.Status, e.Ended = StatusDelisted, a.now
		} else {
			e.Status = StatusListed
		}
	case p.To == "expired" && e.Status == StatusReviewDue:
		if err := due(e.ReviewDue+time.Duration(v.Grace).Nanoseconds(), "the expiry"); err != nil {
			return err
		}
		e.Status, e.Ended = StatusExpired, a.now
	case p.To == "expired" && (e.Status == StatusDelisted || e.Status == StatusRejected):
		e.Status = StatusExpired
		if e.Ended == 0 {
			e.Ended = a.now
		}
	case p.To == "purged" && e.Status == StatusExpired:
		if err := due(e.Nominated+a.s.pol.RetentionFor(e.Kind).Nanoseconds(), "the end of retention"); err != nil {
			return err
		}
		return a.purgeEntry(e)
	default:
		return reject("entry %s is %s and cannot move to %s", e.ID, e.Status, p.To)
	}
	if err := a.putEntry(e); err != nil {
		return err
	}
	alert := e.Status
	if p.To == "appeal-closed" && e.Status == StatusListed {
		alert = "upheld"
	}
	return a.alert(alert, "watchlist/"+e.ID)
}

// purgeEntry removes an entry whose retention has ended, with the signed commands about
// it. The sealed values in older log entries and snapshots become unreadable when the
// epoch keys are destroyed (DESIGN.md).
func (a *applier) purgeEntry(e *Entry) error {
	for _, idx := range e.Commands {
		if err := a.tx.Bucket(bCommands).Delete(u64key(idx)); err != nil {
			return err
		}
	}
	if err := a.tx.Bucket(bEntries).Delete([]byte(e.ID)); err != nil {
		return err
	}
	if err := a.dropSubjectKeys("watchlist/" + e.ID); err != nil {
		return err
	}
	if err := a.reschedule("watchlist/"+e.ID, &e.DeadlineAt, &e.DeadlineTo, 0, ""); err != nil {
		return err
	}
	a.purged = true
	return a.alert("purged", "watchlist/"+e.ID)
}

func (a *applier) getIndicator(id string) (*Indicator, error) {
	v := a.tx.Bucket(bIndicators).Get([]byte(id))
	if v == nil {
		return nil, reject("no indicator %s", id)
	}
	var in Indicator
	if err := json.Unmarshal(v, &in); err != nil {
		return nil, fmt.Errorf("state: indicator %s: %w", id, err)
	}
	return &in, nil
}

func (a *applier) putIndicator(in *Indicator) error {
	in.Commands = append(in.Commands, a.index)
	at, to := indicatorDeadline(in, a.s.pol)
	if err := a.reschedule("indicator/"+in.ID, &in.DeadlineAt, &in.DeadlineTo, at, to); err != nil {
		return err
	}
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return a.tx.Bucket(bIndicators).Put([]byte(in.ID), b)
}

func (a *applier) indicator(p *command.Indicator) error {
	m, _ := a.member()
	if m.Role == policy.RoleObserver {
		return reject("%s is an observer and cannot publish indicators", m.Code)
	}
	if a.tx.Bucket(bIndicators).Get([]byte(p.ID)) != nil {
		return reject("indicator %s already exists", p.ID)
	}
	if p.ValidUntil*int64(time.Second) <= a.now {
		return reject("indicator %s is valid until %s, which has passed", p.ID, stamp(p.ValidUntil*int64(time.Second)))
	}
	if err := a.storeKeys(p.Keys, "indicator/"+p.ID); err != nil {
		return err
	}
	in := &Indicator{ID: p.ID, Kind: p.Kind, Origin: a.c.Origin, Subject: p.Subject, Severity: p.Severity,
		Evidence: p.Evidence, Published: a.now, ValidUntil: p.ValidUntil * int64(time.Second), Status: "active"}
	if err := a.putIndicator(in); err != nil {
		return err
	}
	return a.alert("indicator", "indicator/"+in.ID)
}

func (a *applier) corroborate(p *command.Corroborate) error {
	in, err := a.getIndicator(p.Indicator)
	if err != nil {
		return err
	}
	if in.Status != "active" {
		return reject("indicator %s is %s", in.ID, in.Status)
	}
	if in.Origin == a.c.Origin {
		return reject("%s published %s and cannot corroborate it", a.c.Origin, in.ID)
	}
	if _, dup := in.Corroborators[a.c.Origin]; dup {
		return reject("%s has already corroborated %s", a.c.Origin, in.ID)
	}
	if in.Corroborators == nil {
		in.Corroborators = map[string]int64{}
	}
	in.Corroborators[a.c.Origin] = a.now
	if err := a.putIndicator(in); err != nil {
		return err
	}
	return a.alert("corroborated", "indicator/"+in.ID)
}

func (a *applier) withdraw(p *command.Withdraw) error {
	in, err := a.getIndicator(p.Indicator)
	if err != nil {
		return err
	}
	if in.Origin != a.c.Origin {
		return reject("only %s, which published %s, can withdraw it", in.Origin, in.ID)
	}
	if in.Status != "active" {
		return reject("indicator %s is already %s", in.ID, in.Status)
	}
	in.Status = "withdrawn"
	if err := a.putIndicator(in); err != nil {
		return err
	}
	return a.alert("withdrawn", "indicator/"+in.ID)
}

func (a *applier) indicatorTransition(id, to string) error {
	in, err := a.getIndicator(id)
	if err != nil {
		return err
	}
	switch {
	case to == "expired" && in.Status == "active":
		if a.now < in.ValidUntil {
			return reject("indicator %s is valid until %s", in.ID, stamp(in.ValidUntil))
		}
		in.Status = "expired"
	case to == "purged" && (in.Status == "expired" || in.Status == "withdrawn"):
		if end := in.Published + a.s.pol.RetentionFor("indicator").Nanoseconds(); a.now < end {
			return reject("indicator %s is retained until %s", in.ID, stamp(end))
		}
		for _, idx := range in.Commands {
			if err := a.tx.Bucket(bCommands).Delete(u64key(idx)); err != nil {
				return err
			}
		}
		if err := a.tx.Bucket(bIndicators).Delete([]byte(in.ID)); err != nil {
			return err
		}
		if err := a.dropSubjectKeys("indicator/" + in.ID); err != nil {
			return err
		}
		if err := a.reschedule("indicator/"+in.ID, &in.DeadlineAt, &in.DeadlineTo, 0, ""); err != nil {
			return err
		}
		a.purged = true
		return a.alert("purged", "indicator/"+in.ID)
	default:
		return reject("indicator %s is %s and cannot move to %s", in.ID, in.Status, to)
	}
	if err := a.putIndicator(in); err != nil {
		return err
	}
	return a.alert("indicator-"+in.Status, "indicator/"+in.ID)
}

// maxEpochAhead bounds how far ahead a node may publish an epoch recipient: further than
// any retention period, and near enough that epoch arithmetic in nanoseconds cannot
// overflow.
const maxEpochAhead = 100 * policy.Year

func (a *applier) epochKey(p *command.EpochKey) error {
	cur := a.s.pol.Epoch(time.Unix(0, a.now))
	switch {
	case p.Epoch < cur:
		return reject("key epoch %d has closed (the current epoch is %d)", p.Epoch, cur)
	case p.Epoch > a.s.pol.Epoch(time.Unix(0, a.now).Add(maxEpochAhead)):
		return reject("key epoch %d starts more than %s ahead", p.Epoch, policy.Duration(maxEpochAhead))
	}
	key := epochRecipientKey(a.c.Origin, p.Epoch)
	b := a.tx.Bucket(bEpochs)
	if b.Get(key) != nil {
		return reject("%s has already published its recipient for epoch %d", a.c.Origin, p.Epoch)
	}
	// The origin's closed epochs are of no further use to anyone sealing: drop them, so
	// the bucket holds only live epochs.
	var closed [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(epochRecipientKey(a.c.Origin, 0)); k != nil && bytes.Compare(k, epochRecipientKey(a.c.Origin, cur)) < 0; k, _ = c.Next() {
		closed = append(closed, bytes.Clone(k))
	}
	for _, k := range closed {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return b.Put(key, []byte(p.Recipient))
}

// epochRecipientKey is a bEpochs key: state || epoch (8 bytes, big-endian), so the epochs
// one state published sort together and the first at or after an epoch is one seek.
func epochRecipientKey(state string, epoch uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(state), epoch)
}

// storeKeys records the data keys that travel with a command about subject. Each must be
// a subject key of that subject, from the proposing state, wrapped to epochs its
// recipients have published; a key id is never reused.
func (a *applier) storeKeys(keys []seal.WrappedKey, subject string) error {
	var fresh []seal.WrappedKey
	for _, k := range keys {
		if err := a.checkSubjectKey(k, subject); err != nil {
			return err
		}
		b, _ := json.Marshal(k)
		if have := a.tx.Bucket(bKeys).Get([]byte(k.ID)); have != nil {
			// Two commands may carry the same new key; a different key under a known id
			// is a forgery.
			if !bytes.Equal(have, b) {
				return reject("data key %s already exists with other contents", k.ID)
			}
			continue
		}
		fresh = append(fresh, k)
	}
	// Written only once every key passed, so a rejection leaves nothing behind.
	for _, k := range fresh {
		b, _ := json.Marshal(k)
		if err := a.tx.Bucket(bKeys).Put([]byte(k.ID), b); err != nil {
			return err
		}
		if err := a.tx.Bucket(bSubjectKeys).Put(subjectKeyIndex(subject, k.ID), nil); err != nil {
			return err
		}
	}
	return nil
}

// checkSubjectKey applies the rules every replicated data key obeys: a subject key of
// this subject from the proposing state. Which identities the stanzas are really for
// cannot be checked here (age hides it); the epochs the key names are the originator's
// claim, signed with the command.
func (a *applier) checkSubjectKey(k seal.WrappedKey, subject string) error {
	return subjectKeyRule(k, subject, a.c.Origin)
}

func subjectKeyRule(k seal.WrappedKey, subject, origin string) error {
	switch {
	case k.Subject != subject:
		return reject("data key %s is for subject %q, not %s", k.ID, k.Subject, subject)
	case k.Origin != origin:
		return reject("data key %s comes from %s but %s proposed it", k.ID, k.Origin, origin)
	case !slices.Contains(k.Recipients, origin):
		return reject("data key %s is not wrapped for its own origin %s", k.ID, origin)
	}
	return nil
}

func subjectKeyIndex(subject, id string) []byte {
	b := append([]byte(subject), 0)
	return append(b, id...)
}

// dropSubjectKeys deletes every data key of subject. Together with each node dropping
// the key from its keyring and destroying the epoch identities it was wrapped to, this
// is what makes a purge final.
func (a *applier) dropSubjectKeys(subject string) error {
	prefix := append([]byte(subject), 0)
	idx := a.tx.Bucket(bSubjectKeys)
	var ids [][]byte
	c := idx.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, bytes.Clone(k))
	}
	for _, k := range ids {
		if err := a.tx.Bucket(bKeys).Delete(k[len(prefix):]); err != nil {
			return err
		}
		if err := idx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// rewrap replaces a retained subject key's wrapped form with one wrapped to later epochs.
func (a *applier) rewrap(p *command.Rewrap) error {
	v := a.tx.Bucket(bKeys).Get([]byte(p.Key.ID))
	if v == nil {
		return reject("no data key %s (purged, or never shared)", p.Key.ID)
	}
	var cur seal.WrappedKey
	if err := json.Unmarshal(v, &cur); err != nil {
		return fmt.Errorf("state: key %s: %w", p.Key.ID, err)
	}
	switch {
	case cur.Origin != a.c.Origin:
		return reject("data key %s belongs to %s; only its originator rewraps it", cur.ID, cur.Origin)
	case cur.Subject == "" || p.Key.Subject != cur.Subject || !slices.Equal(p.Key.Recipients, cur.Recipients):
		return reject("a rewrap of %s keeps its subject and recipients", cur.ID)
	case p.Key.Epoch <= cur.Epoch:
		return reject("data key %s is already wrapped for epoch %d", cur.ID, cur.Epoch)
	}
	if err := a.checkSubjectKey(p.Key, cur.Subject); err != nil {
		return err
	}
	b, _ := json.Marshal(p.Key)
	return a.tx.Bucket(bKeys).Put([]byte(p.Key.ID), b)
}

// entryDeadline is an entry's next deadline, decided by its status alone, so that the
// index and the rules agree.
func entryDeadline(e *Entry, pol policy.Policy) (int64, string) {
	v := pol.Voting
	switch e.Status {
	case StatusNominated:
		return e.WindowEnds, "closed"
	case StatusListed:
		return e.ReviewDue, "review-due"
	case StatusAppealed:
		return e.AppealEnds, "appeal-closed"
	case StatusReviewDue:
		return e.ReviewDue + time.Duration(v.Grace).Nanoseconds(), "expired"
	case StatusDelisted, StatusRejected:
		return e.Ended, "expired"
	case StatusExpired:
		return e.Nominated + pol.RetentionFor(e.Kind).Nanoseconds(), "purged"
	}
	return 0, "" // disputed: the steering body decides, no clock does
}

// indicatorDeadline is an indicator's next deadline.
func indicatorDeadline(in *Indicator, pol policy.Policy) (int64, string) {
	if in.Status == "active" {
		return in.ValidUntil, "expired"
	}
	return in.Published + pol.RetentionFor("indicator").Nanoseconds(), "purged"
}

// reschedule moves subject's entry in the deadline index from (*at, *to) to (nat, nto);
// nat 0 removes it.
func (a *applier) reschedule(subject string, at *int64, to *string, nat int64, nto string) error {
	if *at == nat && *to == nto {
		return nil
	}
	b := a.tx.Bucket(bDeadlines)
	if *at != 0 {
		if err := b.Delete(deadlineKey(*at, subject)); err != nil {
			return err
		}
	}
	if nat != 0 {
		if err := b.Put(deadlineKey(nat, subject), []byte(nto)); err != nil {
			return err
		}
	}
	*at, *to = nat, nto
	return nil
}

func deadlineKey(at int64, subject string) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(max(at, 0))), subject...)
}

func cutSubject(s string) (kind, id string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], i > 0
		}
	}
	return "", "", false
}

func stamp(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339) }
