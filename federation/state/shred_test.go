package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"go.etcd.io/bbolt"

	"github.com/entente/entente/crypto/seal"
	"github.com/entente/entente/federation/command"
)

// stateEpochs resolves the epoch recipients published in a State, as a node's keyring does.
type stateEpochs struct{ s *State }

func (d stateEpochs) EpochRecipient(code string, min uint64) (age.Recipient, uint64, error) {
	r, e, ok := d.s.EpochRecipient(code, min)
	if !ok {
		return nil, 0, fmt.Errorf("%s has published no recipient for epoch %d or later", code, min)
	}
	rc, err := age.ParseX25519Recipient(r)
	return rc, e, err
}

// epochIdentities is one member's epoch identities.
type epochIdentities map[uint64]age.Identity

func (h epochIdentities) EpochIdentity(e uint64) (age.Identity, bool) {
	id, ok := h[e]
	return id, ok
}

// noRoster is the long-term directory of keyrings that only seal subject keys.
type noRoster struct{}

func (noRoster) Recipient(code string) (age.Recipient, error) {
	return nil, errors.New("subject keys are never wrapped to long-term recipients")
}

// allMembers are the test federation's members, REL TO FEDERATION's recipients.
var allMembers = []string{"CAN", "DEU", "FRA", "GBR", "ITA"}

// shredFed is the test federation with one replica and, per member, the epoch identities
// it published there and a keyring that seals subject keys to the published recipients.
type shredFed struct {
	*fed
	s     *State
	cur   uint64 // the key epoch at the start
	ids   map[string]epochIdentities
	rings map[string]*seal.Keyring
}

func newShredFed(t *testing.T) *shredFed {
	t.Helper()
	f := newFed(t)
	sf := &shredFed{fed: f, s: f.open("a.db"), cur: f.genesis.Policy.Epoch(f.clock),
		ids: map[string]epochIdentities{}, rings: map[string]*seal.Keyring{}}
	for _, c := range allMembers {
		lt, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		ring, err := seal.NewKeyring(c, lt, noRoster{}, seal.NewMemStore())
		if err != nil {
			t.Fatal(err)
		}
		sf.ids[c] = epochIdentities{}
		ring.UseEpochs(stateEpochs{sf.s}, sf.ids[c])
		sf.rings[c] = ring
	}
	return sf
}

// publish has each of states publish a new recipient for epoch.
func (sf *shredFed) publish(t *testing.T, epoch uint64, states ...string) {
	t.Helper()
	for _, c := range states {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		wantOK(t, sf.do(sf.s, c, &command.EpochKey{Epoch: epoch, Recipient: id.Recipient().String()}), "")
		sf.ids[c][epoch] = id
	}
}

// sealed seals value as field of entryID by origin under origin's subject key of subject,
// released to recipients (the whole federation when none are given), and returns the
// field and that key.
func (sf *shredFed) sealed(t *testing.T, origin, subject, entryID, field, value string, recipients ...string) (command.Field, seal.WrappedKey) {
	t.Helper()
	marking := "REL TO FEDERATION"
	if recipients == nil {
		recipients = allMembers
	} else {
		marking = "REL TO " + strings.Join(recipients, ",")
	}
	s, err := sf.rings[origin].SealSubject(subject, sf.cur, entryID, field, marking, recipients, []byte(value))
	if err != nil {
		t.Fatalf("%s seals %s of %s: %v", origin, field, subject, err)
	}
	w, ok := sf.rings[origin].Key(s.Key)
	if !ok {
		t.Fatalf("%s holds no key %s after sealing", origin, s.Key)
	}
	return command.Field{Marking: marking, Sealed: &s}, w
}

// sealedNomination is a nomination of id by origin whose rationale is sealed under
// origin's subject key for it, which travels with the nomination.
func (sf *shredFed) sealedNomination(t *testing.T, origin, id string) (*command.Nominate, seal.WrappedKey) {
	t.Helper()
	p := nomination(id)
	f, w := sf.sealed(t, origin, "watchlist/"+id, id, "fields.rationale", "the rationale for "+id)
	p.Fields["rationale"] = f
	p.Keys = []seal.WrappedKey{w}
	return p, w
}

// sealedIndicator is an indicator by origin valid for valid, whose evidence is sealed
// under origin's subject key for it.
func (sf *shredFed) sealedIndicator(t *testing.T, origin, id string, valid time.Duration) (*command.Indicator, seal.WrappedKey) {
	t.Helper()
	ev, w := sf.sealed(t, origin, "indicator/"+id, id, "evidence", "consignment re-routed, "+id)
	return &command.Indicator{ID: id, Kind: "diversion", Subject: pub(`"IRN"`), Severity: 4, Evidence: ev,
		ValidUntil: sf.clock.Add(valid).Unix(), Keys: []seal.WrappedKey{w}}, w
}

// contentHash is Hash without what every applied command changes, accepted or rejected:
// the record of rejections and the applied index. A rejected command leaves it as it was.
func contentHash(t *testing.T, s *State) string {
	t.Helper()
	h := sha256.New()
	err := s.view(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if bytes.Equal(name, bResults) {
				continue
			}
			writeLP(h, name)
			if err := tx.Bucket(name).ForEach(func(k, v []byte) error {
				if bytes.Equal(name, bMeta) && bytes.Equal(k, kApplied) {
					return nil
				}
				writeLP(h, k)
				writeLP(h, v)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// rejectedUnchanged applies p by origin, wants it rejected for reason, recorded, and
// without any other effect on the state.
func (f *fed) rejectedUnchanged(t *testing.T, s *State, origin string, p command.Payload, reason string) {
	t.Helper()
	before := contentHash(t, s)
	r := f.do(s, origin, p)
	wantRejected(t, r, reason)
	if got, ok := s.Rejection(r.Index); !ok || got != r.Rejected {
		t.Fatalf("rejection at %d not recorded: %q", r.Index, got)
	}
	if contentHash(t, s) != before {
		t.Fatalf("the rejected %s by %s (%s) changed the state", r.Type, origin, r.Rejected)
	}
}

// keyIDs lists the replicated data keys, as ForEachKey gives them.
func keyIDs(t *testing.T, s *State) []string {
	t.Helper()
	var ids []string
	if err := s.ForEachKey(func(w seal.WrappedKey) bool { ids = append(ids, w.ID); return true }); err != nil {
		t.Fatal(err)
	}
	return ids
}

func sortedIDs(ws ...seal.WrappedKey) []string {
	var ids []string
	for _, w := range ws {
		ids = append(ids, w.ID)
	}
	slices.Sort(ids)
	return ids
}

// subjectIndex lists the subject-key index as "subject key-id".
func subjectIndex(t *testing.T, s *State) []string {
	t.Helper()
	var out []string
	_ = s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bSubjectKeys).ForEach(func(k, _ []byte) error {
			out = append(out, strings.Replace(string(k), "\x00", " ", 1))
			return nil
		})
	})
	return out
}

// wantKey fails unless s holds exactly w under w's id.
func wantKey(t *testing.T, s *State, w seal.WrappedKey) {
	t.Helper()
	got, ok := s.Key(w.ID)
	if !ok {
		t.Fatalf("the state holds no key %s", w.ID)
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(w)
	if !bytes.Equal(a, b) {
		t.Fatalf("key %s in the state:\n%s\nwant\n%s", w.ID, a, b)
	}
}

func wantNoKey(t *testing.T, s *State, id string) {
	t.Helper()
	if _, ok := s.Key(id); ok {
		t.Fatalf("the state still holds key %s", id)
	}
}

func TestEpochKeyRules(t *testing.T) {
	f := newFed(t)
	s := f.open("a.db")
	pol := f.genesis.Policy
	cur := pol.Epoch(f.clock)
	rcpt := func() string {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		return id.Recipient().String()
	}
	ep := func(e uint64, r string) *command.EpochKey { return &command.EpochKey{Epoch: e, Recipient: r} }

	rCur, rFar, rDEU := rcpt(), rcpt(), rcpt()
	wantOK(t, f.do(s, "FRA", ep(cur, rCur)), "")
	f.rejectedUnchanged(t, s, "FRA", ep(cur, rcpt()), "already published")
	f.rejectedUnchanged(t, s, "FRA", ep(cur, rCur), "already published")
	f.rejectedUnchanged(t, s, "FRA", ep(cur-1, rcpt()), "has closed")
	f.rejectedUnchanged(t, s, "DEU", ep(0, rcpt()), "has closed")
	far := pol.Epoch(f.clock.Add(maxEpochAhead))
	f.rejectedUnchanged(t, s, "FRA", ep(far+1, rcpt()), "ahead")
	f.rejectedUnchanged(t, s, "FRA", ep(math.MaxUint64, rcpt()), "ahead")
	wantOK(t, f.do(s, "FRA", ep(far, rFar)), "")
	wantOK(t, f.do(s, "DEU", ep(cur+2, rDEU)), "")
	// Another state may publish the same epoch.
	wantOK(t, f.do(s, "CAN", ep(cur, rcpt())), "")

	for _, c := range []struct {
		state string
		epoch uint64
		want  bool
	}{
		{"FRA", cur, true}, {"FRA", cur + 1, false}, {"FRA", far, true}, {"FRA", far + 1, false}, {"FRA", cur - 1, false},
		{"DEU", cur, false}, {"DEU", cur + 2, true}, {"GBR", cur, false}, {"CAN", cur, true},
	} {
		if got := s.HasEpochRecipient(c.state, c.epoch); got != c.want {
			t.Errorf("HasEpochRecipient(%s, %d) = %t, want %t", c.state, c.epoch-cur, got, c.want)
		}
	}
	for _, c := range []struct {
		state     string
		min       uint64
		wantRcpt  string
		wantEpoch uint64
		wantOK    bool
	}{
		{"FRA", 0, rCur, cur, true},
		{"FRA", cur, rCur, cur, true}, // the first published, not the duplicate
		{"FRA", cur + 1, rFar, far, true},
		{"FRA", far, rFar, far, true},
		{"FRA", far + 1, "", 0, false},
		{"DEU", cur, rDEU, cur + 2, true},
		{"DEU", cur + 2, rDEU, cur + 2, true},
		{"DEU", cur + 3, "", 0, false},
		{"GBR", 0, "", 0, false},
	} {
		r, e, ok := s.EpochRecipient(c.state, c.min)
		if r != c.wantRcpt || e != c.wantEpoch || ok != c.wantOK {
			t.Errorf("EpochRecipient(%s, cur%+d) = %.12q, %d, %t; want %.12q, %d, %t", c.state, int64(c.min-cur), r, e, ok, c.wantRcpt, c.wantEpoch, c.wantOK)
		}
	}
	if got, want := s.LatestEpochs(), map[string]uint64{"FRA": far, "DEU": cur + 2, "CAN": cur}; !maps.Equal(got, want) {
		t.Fatalf("LatestEpochs() = %v, want %v", got, want)
	}

	// The current epoch moves with the stamped time: a week on, cur has closed.
	f.clock = f.clock.Add(time.Duration(pol.KeyEpoch))
	wantOK(t, f.do(s, "GBR", ep(cur+1, rcpt())), "")
	f.rejectedUnchanged(t, s, "GBR", ep(cur, rcpt()), "has closed")
	// Publishing drops the publisher's closed epochs, and only the publisher's.
	if !s.HasEpochRecipient("FRA", cur) {
		t.Fatal("FRA's closed epoch went before FRA published again")
	}
	wantOK(t, f.do(s, "FRA", ep(cur+3, rcpt())), "")
	if s.HasEpochRecipient("FRA", cur) || !s.HasEpochRecipient("FRA", far) || !s.HasEpochRecipient("CAN", cur) {
		t.Fatal("publishing did not drop exactly FRA's closed epochs")
	}

	b := f.open("b.db")
	for i, data := range f.log {
		b.Apply(uint64(i+1), data)
	}
	ha, _ := s.Hash()
	hb, _ := b.Hash()
	if ha != hb {
		t.Fatal("replicas differ after the same epoch keys")
	}
}

func TestNominationKeyRules(t *testing.T) {
	sf := newShredFed(t)
	s := sf.s
	sf.publish(t, sf.cur, allMembers...)

	// A key of another subject.
	p := nomination("N1")
	_, other := sf.sealed(t, "FRA", "watchlist/N2", "N2", "fields.rationale", "x")
	p.Keys = []seal.WrappedKey{other}
	sf.rejectedUnchanged(t, s, "FRA", p, "is for subject")
	// Another state's key, even of the right subject.
	p = nomination("N1")
	_, deuKey := sf.sealed(t, "DEU", "watchlist/N1", "N1", "fields.rationale", "x")
	p.Keys = []seal.WrappedKey{deuKey}
	sf.rejectedUnchanged(t, s, "FRA", p, "comes from DEU")
	// A key its origin cannot unwrap (so could never rewrap).
	p = nomination("N1")
	_, notOwn := sf.sealed(t, "FRA", "watchlist/N1", "N1", "fields.rationale", "x", "DEU", "GBR")
	p.Keys = []seal.WrappedKey{notOwn}
	sf.rejectedUnchanged(t, s, "FRA", p, "not wrapped for its own origin")
	// One bad key rejects the command, and the good key with it is not kept.
	good, w := sf.sealedNomination(t, "FRA", "N1")
	bad := *good
	bad.Keys = []seal.WrappedKey{w, other}
	sf.rejectedUnchanged(t, s, "FRA", &bad, "is for subject")
	for _, id := range []string{other.ID, deuKey.ID, notOwn.ID, w.ID} {
		wantNoKey(t, s, id)
	}
	if _, ok, _ := s.Entry("N1"); ok {
		t.Fatal("a rejected nomination created its entry")
	}
	if ids := keyIDs(t, s); len(ids) != 0 {
		t.Fatalf("keys after rejected nominations: %v", ids)
	}

	wantOK(t, sf.do(s, "FRA", good), "nominated")
	wantKey(t, s, w)
	if ids := keyIDs(t, s); !slices.Equal(ids, []string{w.ID}) {
		t.Fatalf("ForEachKey lists %v, want [%s]", ids, w.ID)
	}
	if idx := subjectIndex(t, s); !slices.Equal(idx, []string{"watchlist/N1 " + w.ID}) {
		t.Fatalf("subject index %v", idx)
	}
	// ForEachKey stops when told to.
	calls := 0
	_ = s.ForEachKey(func(seal.WrappedKey) bool { calls++; return false })
	if calls != 1 {
		t.Fatalf("ForEachKey went on after false: %d calls", calls)
	}

	// A key id is never reused with other contents, even relabelled for its subject.
	p2 := nomination("N2")
	reused := w
	reused.Subject = "watchlist/N2"
	p2.Keys = []seal.WrappedKey{reused}
	sf.rejectedUnchanged(t, s, "FRA", p2, "already exists with other contents")
	wantKey(t, s, w)

	// Another member opens the sealed field with the key from the state.
	deu := sf.rings["DEU"]
	stored, _ := s.Key(w.ID)
	if err := deu.Import(stored); err != nil {
		t.Fatal(err)
	}
	e, _, _ := s.Entry("N1")
	pt, err := deu.Open(*e.Fields["rationale"].Sealed, "N1", "fields.rationale")
	if err != nil || string(pt) != "the rationale for N1" {
		t.Fatalf("DEU opens the rationale: %q, %v", pt, err)
	}
}

func TestVoteCarriesItsSubjectKey(t *testing.T) {
	sf := newShredFed(t)
	s := sf.s
	sf.publish(t, sf.cur, allMembers...)
	p, fk := sf.sealedNomination(t, "FRA", "N")
	wantOK(t, sf.do(s, "FRA", p), "nominated")

	reason, dk := sf.sealed(t, "DEU", "watchlist/N", "N", "reason", "the broker is a front")
	// GBR cannot carry DEU's key.
	stolen := &command.Vote{Entry: "N", Position: "object", Reason: &reason, Keys: []seal.WrappedKey{dk}}
	sf.rejectedUnchanged(t, s, "GBR", stolen, "comes from DEU")
	// Nor its own key of another subject.
	gReason, gOther := sf.sealed(t, "GBR", "watchlist/OTHER", "N", "reason", "x")
	sf.rejectedUnchanged(t, s, "GBR", &command.Vote{Entry: "N", Position: "object", Reason: &gReason, Keys: []seal.WrappedKey{gOther}}, "is for subject")
	if e, _, _ := s.Entry("N"); len(e.Votes) != 0 {
		t.Fatalf("a rejected vote was recorded: %+v", e.Votes)
	}

	wantOK(t, sf.do(s, "DEU", &command.Vote{Entry: "N", Position: "object", Reason: &reason, Keys: []seal.WrappedKey{dk}}), "objection")
	wantKey(t, s, dk)
	wantKey(t, s, fk)
	if ids := keyIDs(t, s); !slices.Equal(ids, sortedIDs(fk, dk)) {
		t.Fatalf("ForEachKey lists %v, want %v", ids, sortedIDs(fk, dk))
	}
	wantIdx := []string{"watchlist/N " + dk.ID, "watchlist/N " + fk.ID}
	slices.Sort(wantIdx)
	if idx := subjectIndex(t, s); !slices.Equal(idx, wantIdx) {
		t.Fatalf("subject index %v, want %v", idx, wantIdx)
	}

	// The originator opens the objection's reason with the key from the state.
	fra := sf.rings["FRA"]
	stored, _ := s.Key(dk.ID)
	if err := fra.Import(stored); err != nil {
		t.Fatal(err)
	}
	e, _, _ := s.Entry("N")
	pt, err := fra.Open(*e.Votes["DEU"].Reason.Sealed, "N", "reason")
	if err != nil || string(pt) != "the broker is a front" {
		t.Fatalf("FRA opens DEU's reason: %q, %v", pt, err)
	}
}

func TestRewrapRules(t *testing.T) {
	sf := newShredFed(t)
	s := sf.s
	sf.publish(t, sf.cur, allMembers...)
	sf.publish(t, sf.cur+1, allMembers...)
	p, w := sf.sealedNomination(t, "FRA", "N")
	wantOK(t, sf.do(s, "FRA", p), "nominated")
	// GBR takes the key as first shared.
	gbr := sf.rings["GBR"]
	if err := gbr.Import(w); err != nil {
		t.Fatal(err)
	}
	nw, err := sf.rings["FRA"].Rewrap(w.ID, sf.cur+1)
	if err != nil {
		t.Fatal(err)
	}

	rw := func(mut func(k *seal.WrappedKey)) *command.Rewrap {
		k := nw
		k.Recipients, k.Epochs, k.Wrapped = slices.Clone(nw.Recipients), slices.Clone(nw.Epochs), slices.Clone(nw.Wrapped)
		mut(&k)
		return &command.Rewrap{Key: k}
	}
	same := func(*seal.WrappedKey) {}
	sf.rejectedUnchanged(t, s, "DEU", rw(same), "only its originator")
	sf.rejectedUnchanged(t, s, "DEU", rw(func(k *seal.WrappedKey) { k.Origin = "DEU" }), "belongs to FRA")
	sf.rejectedUnchanged(t, s, "FRA", &command.Rewrap{Key: w}, "already wrapped for epoch")
	sf.rejectedUnchanged(t, s, "FRA", rw(func(k *seal.WrappedKey) { k.Epoch = sf.cur - 1 }), "already wrapped for epoch")
	sf.rejectedUnchanged(t, s, "FRA", rw(func(k *seal.WrappedKey) {
		k.Recipients, k.Epochs = k.Recipients[1:], k.Epochs[1:] // CAN dropped
	}), "keeps its subject and recipients")
	sf.rejectedUnchanged(t, s, "FRA", rw(func(k *seal.WrappedKey) {
		k.Recipients, k.Epochs = append(k.Recipients, "USA"), append(k.Epochs, sf.cur+1)
	}), "keeps its subject and recipients")
	sf.rejectedUnchanged(t, s, "FRA", rw(func(k *seal.WrappedKey) { k.Subject = "watchlist/M" }), "keeps its subject")
	sf.rejectedUnchanged(t, s, "FRA", rw(func(k *seal.WrappedKey) { k.ID = "k1" + strings.Repeat("A", 22) }), "no data key")
	sf.rejectedUnchanged(t, s, "FRA", rw(func(k *seal.WrappedKey) { k.Origin = "GBR" }), "comes from GBR")
	wantKey(t, s, w)

	wantOK(t, sf.do(s, "FRA", &command.Rewrap{Key: nw}), "")
	wantKey(t, s, nw)
	if ids := keyIDs(t, s); !slices.Equal(ids, []string{w.ID}) {
		t.Fatalf("after the rewrap ForEachKey lists %v, want the one key %s", ids, w.ID)
	}
	if idx := subjectIndex(t, s); !slices.Equal(idx, []string{"watchlist/N " + w.ID}) {
		t.Fatalf("subject index after the rewrap: %v", idx)
	}
	// Neither the same rewrap again nor the old form goes back.
	sf.rejectedUnchanged(t, s, "FRA", &command.Rewrap{Key: nw}, "already wrapped for epoch")
	sf.rejectedUnchanged(t, s, "FRA", &command.Rewrap{Key: w}, "already wrapped for epoch")

	// GBR destroys its identity for the old epoch, takes the rewrap from the state in
	// place of the key it held, and opens.
	delete(sf.ids["GBR"], sf.cur)
	stored, _ := s.Key(w.ID)
	if err := gbr.Import(stored); err != nil {
		t.Fatal(err)
	}
	e, _, _ := s.Entry("N")
	if pt, err := gbr.Open(*e.Fields["rationale"].Sealed, "N", "fields.rationale"); err != nil || string(pt) != "the rationale for N" {
		t.Fatalf("GBR opens after the rewrap: %q, %v", pt, err)
	}
}

// TestPurgeDropsSubjectKeys drives an indicator through expiry and purge and checks its
// keys, rewrapped or not, leave the state while other subjects' keys stay.
func TestPurgeDropsSubjectKeys(t *testing.T) {
	sf := newShredFed(t)
	s := sf.s
	sf.publish(t, sf.cur, allMembers...)
	sf.publish(t, sf.cur+1, allMembers...)

	i1, k1 := sf.sealedIndicator(t, "GBR", "I1", time.Hour)
	wantOK(t, sf.do(s, "GBR", i1), "indicator")
	i2, k2 := sf.sealedIndicator(t, "FRA", "I2", 48*time.Hour)
	wantOK(t, sf.do(s, "FRA", i2), "indicator")
	n, kn := sf.sealedNomination(t, "FRA", "N")
	wantOK(t, sf.do(s, "FRA", n), "nominated")
	// The indicator's key is rewrapped before it is purged.
	nk1, err := sf.rings["GBR"].Rewrap(k1.ID, sf.cur+1)
	if err != nil {
		t.Fatal(err)
	}
	wantOK(t, sf.do(s, "GBR", &command.Rewrap{Key: nk1}), "")
	wantKey(t, s, nk1)

	published := sf.clock
	if at, to, ok := s.NextDeadline("indicator/I1"); !ok || to != "expired" || at != time.Unix(i1.ValidUntil, 0).UnixNano() {
		t.Fatalf("NextDeadline(indicator/I1) = %s, %q, %t; want its validity end and expired", stamp(at), to, ok)
	}
	if _, _, ok := s.NextDeadline("indicator/none"); ok {
		t.Fatal("NextDeadline of an unknown subject")
	}
	sf.rejectedUnchanged(t, s, "DEU", &command.Transition{Subject: "indicator/I1", To: "expired"}, "valid until")

	sf.clock = sf.clock.Add(time.Hour)
	wantOK(t, sf.do(s, "DEU", &command.Transition{Subject: "indicator/I1", To: "expired"}), "indicator-expired")
	retained := published.Add(72 * time.Hour)
	if at, to, ok := s.NextDeadline("indicator/I1"); !ok || to != "purged" || at != retained.UnixNano() {
		t.Fatalf("NextDeadline after expiry = %s, %q, %t; want %s purged", stamp(at), to, ok, stamp(retained.UnixNano()))
	}
	sf.rejectedUnchanged(t, s, "DEU", &command.Transition{Subject: "indicator/I1", To: "purged"}, "retained until")
	wantKey(t, s, nk1)

	sf.clock = retained
	wantOK(t, sf.do(s, "DEU", &command.Transition{Subject: "indicator/I1", To: "purged"}), "purged")
	wantNoKey(t, s, k1.ID)
	if ids := keyIDs(t, s); !slices.Equal(ids, sortedIDs(k2, kn)) {
		t.Fatalf("after the purge ForEachKey lists %v, want %v", ids, sortedIDs(k2, kn))
	}
	for _, idx := range subjectIndex(t, s) {
		if strings.HasPrefix(idx, "indicator/I1 ") {
			t.Fatalf("the subject index still lists %s", idx)
		}
	}
	wantKey(t, s, k2)
	wantKey(t, s, kn)
	if _, _, ok := s.NextDeadline("indicator/I1"); ok {
		t.Fatal("a purged indicator still has a deadline")
	}
	checkDeadlineIndex(t, s)
	// Its key cannot come back by a rewrap.
	again := nk1
	again.Epoch++
	sf.rejectedUnchanged(t, s, "GBR", &command.Rewrap{Key: again}, "no data key")

	replicasAgree(t, sf.fed, s)
}

// TestWatchlistPurgeDropsEveryKeyOfTheEntry: the nomination's, a vote's and an appeal's
// keys of one entry all go when the entry is purged; another subject's key stays.
func TestWatchlistPurgeDropsEveryKeyOfTheEntry(t *testing.T) {
	sf := newShredFed(t)
	s := sf.s
	sf.publish(t, sf.cur, allMembers...)
	start := sf.clock

	n, kn := sf.sealedNomination(t, "FRA", "N")
	wantOK(t, sf.do(s, "FRA", n), "nominated")
	reason, kd := sf.sealed(t, "DEU", "watchlist/N", "N", "reason", "agreed")
	wantOK(t, sf.do(s, "DEU", &command.Vote{Entry: "N", Position: "endorse", Reason: &reason, Keys: []seal.WrappedKey{kd}}), "endorsement")
	ind, kg := sf.sealedIndicator(t, "GBR", "I", 200*time.Hour)
	wantOK(t, sf.do(s, "GBR", ind), "indicator")

	sf.clock = start.Add(time.Hour)
	wantOK(t, sf.do(s, "GBR", &command.Transition{Subject: "watchlist/N", To: "closed"}), StatusListed)
	grounds, ka := sf.sealed(t, "ITA", "watchlist/N", "N", "grounds", "mistaken identity")
	wantOK(t, sf.do(s, "ITA", &command.Appeal{Entry: "N", Grounds: grounds, Keys: []seal.WrappedKey{ka}}), "appeal")
	wantKey(t, s, ka)
	sf.clock = start.Add(2 * time.Hour)
	wantOK(t, sf.do(s, "GBR", &command.Transition{Subject: "watchlist/N", To: "appeal-closed"}), "upheld")
	sf.clock = start.Add(25 * time.Hour)
	wantOK(t, sf.do(s, "GBR", &command.Transition{Subject: "watchlist/N", To: "review-due"}), StatusReviewDue)
	sf.clock = start.Add(26 * time.Hour)
	wantOK(t, sf.do(s, "GBR", &command.Transition{Subject: "watchlist/N", To: "expired"}), StatusExpired)
	if ids := keyIDs(t, s); !slices.Equal(ids, sortedIDs(kn, kd, kg, ka)) {
		t.Fatalf("before the purge ForEachKey lists %v", ids)
	}
	sf.rejectedUnchanged(t, s, "GBR", &command.Transition{Subject: "watchlist/N", To: "purged"}, "not due until")

	sf.clock = start.Add(72 * time.Hour)
	wantOK(t, sf.do(s, "GBR", &command.Transition{Subject: "watchlist/N", To: "purged"}), "purged")
	for _, w := range []seal.WrappedKey{kn, kd, ka} {
		wantNoKey(t, s, w.ID)
	}
	wantKey(t, s, kg)
	if ids := keyIDs(t, s); !slices.Equal(ids, []string{kg.ID}) {
		t.Fatalf("after the purge ForEachKey lists %v, want [%s]", ids, kg.ID)
	}
	if idx := subjectIndex(t, s); !slices.Equal(idx, []string{"indicator/I " + kg.ID}) {
		t.Fatalf("after the purge the subject index is %v", idx)
	}
	checkDeadlineIndex(t, s)

	replicasAgree(t, sf.fed, s)
}

// replicasAgree replays f's log on a fresh replica, entry by entry and as one batch, and
// wants s's hash.
func replicasAgree(t *testing.T, f *fed, s *State) {
	t.Helper()
	want, err := s.Hash()
	if err != nil {
		t.Fatal(err)
	}
	b := f.open("replica.db")
	var all []Committed
	for i, data := range f.log {
		b.Apply(uint64(i+1), data)
		all = append(all, Committed{Index: uint64(i + 1), Data: data})
	}
	if got, _ := b.Hash(); got != want {
		t.Fatal("a replica replaying the log has another state")
	}
	c := f.open("batched.db")
	c.ApplyBatch(all)
	if got, _ := c.Hash(); got != want {
		t.Fatal("a replica applying the log as one batch has another state")
	}
}

// TestMovedCiphertextIsRefused: a sealed value copied from another entry names that
// entry's data key. Such a command is refused before it is proposed (CheckSealedKeys) and
// on apply, whether the key is carried again or only referred to, and whoever sends it.
func TestMovedCiphertextIsRefused(t *testing.T) {
	sf := newShredFed(t)
	s := sf.s
	sf.publish(t, sf.cur, allMembers...)
	m, _ := sf.sealedNomination(t, "FRA", "M")
	wantOK(t, sf.do(s, "FRA", m), "nominated")
	n, _ := sf.sealedNomination(t, "FRA", "N")
	wantOK(t, sf.do(s, "FRA", n), "nominated")

	// FRA's own rationale of M, moved into a new nomination O, its key referred to only.
	moved := nomination("O")
	moved.Fields["rationale"] = m.Fields["rationale"]
	// DEU's objection to N carrying FRA's sealed rationale of N as its reason.
	stolen := n.Fields["rationale"]
	cases := []struct {
		name, origin string
		p            command.Payload
		reason       string
	}{
		{"value of another entry, key held", "FRA", moved, "belongs to watchlist/M from FRA, not to watchlist/O"},
		{"value of another entry, key carried", "FRA", &command.Nominate{ID: "P", Kind: "denied-party", Fields: map[string]command.Field{
			"party": n.Fields["party"], "basis": n.Fields["basis"], "rationale": m.Fields["rationale"]}, Keys: m.Keys}, "is for subject"},
		{"another state's value", "DEU", &command.Vote{Entry: "N", Position: "object", Reason: &stolen}, "belongs to watchlist/N from FRA, not to watchlist/N from DEU"},
		{"a key nobody holds", "FRA", func() command.Payload {
			p := nomination("Q")
			f := m.Fields["rationale"]
			sealed := *f.Sealed
			sealed.Key = "k1AAAAAAAAAAAAAAAAAAAAAA"
			f.Sealed = &sealed
			p.Fields["rationale"] = f
			return p
		}(), "neither the command carries nor the federation holds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := command.New(tc.origin, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CheckSealedKeys(c, tc.p); err == nil || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("before the proposal: %v, want it to say %q", err, tc.reason)
			}
			sf.rejectedUnchanged(t, s, tc.origin, tc.p, tc.reason)
		})
	}
	// The genuine objection with DEU's own key passes both.
	reason, dk := sf.sealed(t, "DEU", "watchlist/N", "N", "reason", "the broker is a front")
	ok := &command.Vote{Entry: "N", Position: "object", Reason: &reason, Keys: []seal.WrappedKey{dk}}
	c, _ := command.New("DEU", ok)
	if err := s.CheckSealedKeys(c, ok); err != nil {
		t.Fatalf("a genuine objection was refused before the proposal: %v", err)
	}
	wantOK(t, sf.do(s, "DEU", ok), "objection")
}
