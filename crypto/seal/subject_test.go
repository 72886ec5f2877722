package seal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
)

// fakeEpochDir is the replicated table of published epoch recipients: state -> epoch ->
// recipient. Like the real one, it answers with the first epoch at or after min.
type fakeEpochDir map[string]map[uint64]age.Recipient

func (d fakeEpochDir) EpochRecipient(state string, min uint64) (age.Recipient, uint64, error) {
	var best uint64
	found := false
	for e := range d[state] {
		if e >= min && (!found || e < best) {
			best, found = e, true
		}
	}
	if !found {
		return nil, 0, fmt.Errorf("%s has published no recipient for epoch %d or later", state, min)
	}
	return d[state][best], best, nil
}

// heldEpochs is one node's epoch identities; deleting one simulates its destruction.
type heldEpochs map[uint64]age.Identity

func (h heldEpochs) EpochIdentity(epoch uint64) (age.Identity, bool) {
	id, ok := h[epoch]
	return id, ok
}

// without returns a copy of h lacking epochs.
func (h heldEpochs) without(epochs ...uint64) heldEpochs {
	out := heldEpochs{}
	for e, id := range h {
		if !slices.Contains(epochs, e) {
			out[e] = id
		}
	}
	return out
}

// epochNet is a federation (see federation) whose nodes also hold epoch identities and
// see each other's published epoch recipients.
type epochNet struct {
	nodes map[string]*node
	dir   testDir
	edir  fakeEpochDir
	ids   map[string]map[uint64]*age.X25519Identity
	held  map[string]heldEpochs
}

// The epochs each state has published in these tests: DEU skipped 11.
var testPublished = map[string][]uint64{"FRA": {10, 11, 12}, "DEU": {10, 12}, "GBR": {10, 11, 12}}

func newEpochNet(t *testing.T) *epochNet {
	t.Helper()
	nodes, dir := federation(t, "FRA", "DEU", "GBR")
	n := &epochNet{nodes: nodes, dir: dir, edir: fakeEpochDir{}, ids: map[string]map[uint64]*age.X25519Identity{}, held: map[string]heldEpochs{}}
	for code, epochs := range testPublished {
		n.edir[code] = map[uint64]age.Recipient{}
		n.ids[code] = map[uint64]*age.X25519Identity{}
		n.held[code] = heldEpochs{}
		for _, e := range epochs {
			id, err := age.GenerateX25519Identity()
			if err != nil {
				t.Fatal(err)
			}
			n.edir[code][e] = id.Recipient()
			n.ids[code][e] = id
			n.held[code][e] = id
		}
	}
	for code, nd := range nodes {
		nd.kr.UseEpochs(n.edir, n.held[code])
	}
	return n
}

// ring returns a new keyring for code over store, seeing only the epoch identities in
// held (none at all when held is nil: the long-term identity alone).
func (n *epochNet) ring(t *testing.T, code string, store Store, held heldEpochs) *Keyring {
	t.Helper()
	kr, err := NewKeyring(code, n.nodes[code].id, n.dir, store)
	if err != nil {
		t.Fatal(err)
	}
	if held != nil {
		kr.UseEpochs(n.edir, held)
	}
	return kr
}

func mustSealSubject(t *testing.T, kr *Keyring, subject string, epoch uint64, entry, field string, rcpts []string, pt string) Sealed {
	t.Helper()
	s, err := kr.SealSubject(subject, epoch, entry, field, relFRADEU, rcpts, []byte(pt))
	if err != nil {
		t.Fatalf("SealSubject(%s, %d): %v", subject, epoch, err)
	}
	return s
}

func mustKey(t *testing.T, kr *Keyring, id string) WrappedKey {
	t.Helper()
	w, ok := kr.Key(id)
	if !ok {
		t.Fatalf("keyring does not hold key %s", id)
	}
	return w
}

func wantOpen(t *testing.T, kr *Keyring, s Sealed, entry, field, want string) {
	t.Helper()
	got, err := kr.Open(s, entry, field)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if string(got) != want {
		t.Fatalf("Open = %q, want %q", got, want)
	}
}

// rawKey recovers the data key of w with one epoch identity, as an audit of raw files does.
func rawKey(t *testing.T, w WrappedKey, id age.Identity) []byte {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(w.Wrapped), id)
	if err != nil {
		t.Fatalf("age.Decrypt of key %s: %v", w.ID, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const subjN = "watchlist/FRA-N-1"

func TestSealSubjectWrapsToEpochIdentities(t *testing.T) {
	n := newEpochNet(t)
	fra, deu, gbr := n.nodes["FRA"], n.nodes["DEU"], n.nodes["GBR"]
	const secret = "Zorbatek Trading FZE, Jebel Ali"
	s := mustSealSubject(t, fra.kr, subjN, 10, "FRA-N-1", "fields.party", []string{"FRA", "DEU"}, secret)
	wantOpen(t, fra.kr, s, "FRA-N-1", "fields.party", secret)

	w, ok, err := fra.store.GetKey(s.Key)
	if err != nil || !ok {
		t.Fatalf("FRA did not store the subject key: %v %v", ok, err)
	}
	if w.ID != s.Key || w.Origin != "FRA" || w.Subject != subjN || w.Epoch != 10 ||
		!slices.Equal(w.Recipients, []string{"DEU", "FRA"}) || !slices.Equal(w.Epochs, []uint64{10, 10}) {
		t.Fatalf("subject key %+v: want origin FRA, subject %s, recipients [DEU FRA], epoch 10, epochs [10 10]", w, subjN)
	}
	if got := mustKey(t, fra.kr, s.Key); !got.equal(w) {
		t.Fatal("Key returns another form than the store holds")
	}

	// DEU opens once the key reaches it, with its epoch 10 identity.
	_, err = deu.kr.Open(s, "FRA-N-1", "fields.party")
	wantErrIs(t, err, ErrNotReleased)
	if err := deu.kr.Import(w); err != nil {
		t.Fatalf("DEU imports FRA's subject key: %v", err)
	}
	wantOpen(t, deu.kr, s, "FRA-N-1", "fields.party", secret)
	if got := deu.kr.SubjectKeys(); len(got) != 1 || !got[0].equal(w) {
		t.Fatalf("DEU's SubjectKeys() = %+v, want FRA's key", got)
	}

	// The key is wrapped to epoch identities only: no long-term identity opens it.
	var nomatch *age.NoIdentityMatchError
	for _, c := range []string{"FRA", "DEU"} {
		if _, err := age.Decrypt(bytes.NewReader(w.Wrapped), n.nodes[c].id); !errors.As(err, &nomatch) {
			t.Fatalf("%s's long-term identity on a subject key: %v, want NoIdentityMatchError", c, err)
		}
	}
	longTerm := n.ring(t, "DEU", NewMemStore(), nil)
	if err := longTerm.Import(w); err != nil {
		t.Fatal(err)
	}
	_, err = longTerm.Open(s, "FRA-N-1", "fields.party")
	wantErrIs(t, err, ErrNotReleased)
	noEpoch := n.ring(t, "DEU", NewMemStore(), n.held["DEU"].without(10))
	if err := noEpoch.Import(w); err != nil {
		t.Fatal(err)
	}
	_, err = noEpoch.Open(s, "FRA-N-1", "fields.party")
	wantErrIs(t, err, ErrNotReleased)
	// Another epoch's identity of DEU does not open it either.
	wrongEpoch := n.ring(t, "DEU", NewMemStore(), heldEpochs{10: n.ids["DEU"][12]})
	if err := wrongEpoch.Import(w); err != nil {
		t.Fatal(err)
	}
	_, err = wrongEpoch.Open(s, "FRA-N-1", "fields.party")
	wantErrIs(t, err, ErrNotReleased)

	// GBR holds the key but is not a recipient.
	if err := gbr.kr.Import(w); err != nil {
		t.Fatal(err)
	}
	_, err = gbr.kr.Open(s, "FRA-N-1", "fields.party")
	wantErrIs(t, err, ErrNotReleased)
}

func TestSealSubjectUsesFirstPublishedEpoch(t *testing.T) {
	n := newEpochNet(t)
	fra := n.nodes["FRA"]
	// DEU has not published 11: its stanza goes to 12, FRA's to 11.
	s := mustSealSubject(t, fra.kr, subjN, 11, "FRA-N-1", "f", []string{"DEU", "FRA"}, "v")
	w := mustKey(t, fra.kr, s.Key)
	if w.Epoch != 11 || !slices.Equal(w.Epochs, []uint64{12, 11}) {
		t.Fatalf("epoch %d, epochs %v; want 11 and [12 11]", w.Epoch, w.Epochs)
	}
	raw12 := rawKey(t, w, n.ids["DEU"][12])
	if raw11 := rawKey(t, w, n.ids["FRA"][11]); !bytes.Equal(raw11, raw12) {
		t.Fatal("the two stanzas wrap different data keys")
	}
	deu := n.ring(t, "DEU", NewMemStore(), heldEpochs{12: n.ids["DEU"][12]})
	if err := deu.Import(w); err != nil {
		t.Fatal(err)
	}
	wantOpen(t, deu, s, "FRA-N-1", "f", "v")

	// No recipient for 13 or later: nothing is created or stored.
	puts := fra.store.puts.Load()
	if _, err := fra.kr.SealSubject("watchlist/other", 13, "e", "f", relFRADEU, []string{"DEU", "FRA"}, []byte("v")); err == nil {
		t.Fatal("sealed for an epoch DEU never published")
	}
	if fra.store.puts.Load() != puts {
		t.Fatal("a failed SealSubject stored a key")
	}
}

func TestSealSubjectRefusals(t *testing.T) {
	n := newEpochNet(t)
	bare := n.ring(t, "FRA", NewMemStore(), nil)
	if _, err := bare.SealSubject(subjN, 10, "e", "f", relFRADEU, []string{"DEU", "FRA"}, []byte("v")); err == nil {
		t.Fatal("SealSubject without UseEpochs succeeded")
	}
	_, err := n.nodes["FRA"].kr.SealSubject("", 10, "e", "f", relFRADEU, []string{"DEU", "FRA"}, []byte("v"))
	wantErrIs(t, err, ErrMalformed)
	_, err = n.nodes["FRA"].kr.SealSubject(strings.Repeat("s", MaxBindingLen+1), 10, "e", "f", relFRADEU, []string{"DEU", "FRA"}, []byte("v"))
	wantErrIs(t, err, ErrMalformed)
}

func TestSubjectKeyShreddedWithEpochIdentity(t *testing.T) {
	n := newEpochNet(t)
	fra, deu := n.nodes["FRA"], n.nodes["DEU"]
	s := mustSealSubject(t, fra.kr, subjN, 10, "FRA-N-1", "f", []string{"DEU", "FRA"}, "v")
	importAll(t, fra, deu)
	wantOpen(t, deu.kr, s, "FRA-N-1", "f", "v")

	// DEU destroys its epoch 10 identity and restarts: the wrapped key is still in its
	// store, but nothing it holds opens it.
	restarted := n.ring(t, "DEU", deu.store, n.held["DEU"].without(10))
	if _, ok := restarted.Key(s.Key); !ok {
		t.Fatal("the restarted keyring lost the stored key")
	}
	_, err := restarted.Open(s, "FRA-N-1", "f")
	wantErrIs(t, err, ErrNotReleased)
	// The same for the originator.
	fraRestarted := n.ring(t, "FRA", fra.store, n.held["FRA"].without(10))
	_, err = fraRestarted.Open(s, "FRA-N-1", "f")
	wantErrIs(t, err, ErrNotReleased)
	// FRA cannot rewrap what it cannot unwrap.
	if _, err := fraRestarted.Rewrap(s.Key, 11); err == nil {
		t.Fatal("rewrapped a key whose epoch identity is gone")
	}
}

func TestRewrapSubjectKey(t *testing.T) {
	n := newEpochNet(t)
	fra, deu := n.nodes["FRA"], n.nodes["DEU"]
	s := mustSealSubject(t, fra.kr, subjN, 10, "FRA-N-1", "f", []string{"DEU", "FRA"}, "kept")
	old := mustKey(t, fra.kr, s.Key)

	// DEU holds and opens the old form, then loses its epoch 10 identity and restarts.
	if err := deu.kr.Import(old); err != nil {
		t.Fatal(err)
	}
	wantOpen(t, deu.kr, s, "FRA-N-1", "f", "kept")
	deuStore := deu.store
	deuRing := n.ring(t, "DEU", deuStore, n.held["DEU"].without(10))
	_, err := deuRing.Open(s, "FRA-N-1", "f")
	wantErrIs(t, err, ErrNotReleased)

	nw, err := fra.kr.Rewrap(s.Key, 11)
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	if nw.ID != old.ID || nw.Origin != "FRA" || nw.Subject != subjN || !slices.Equal(nw.Recipients, old.Recipients) {
		t.Fatalf("rewrap changed the key's identity: %+v", nw)
	}
	if nw.Epoch != 11 || !slices.Equal(nw.Epochs, []uint64{12, 11}) {
		t.Fatalf("rewrap to 11: epoch %d, epochs %v; want 11 and [12 11]", nw.Epoch, nw.Epochs)
	}
	if bytes.Equal(nw.Wrapped, old.Wrapped) {
		t.Fatal("rewrap kept the old wrapped form")
	}
	if st, _, _ := fra.store.GetKey(s.Key); !st.equal(nw) {
		t.Fatal("FRA's store does not hold the rewrapped form")
	}
	if got := mustKey(t, fra.kr, s.Key); !got.equal(nw) {
		t.Fatal("FRA's keyring does not hold the rewrapped form")
	}
	// The data key is unchanged: the old and the new wrapping give the same bytes.
	if !bytes.Equal(rawKey(t, old, n.ids["DEU"][10]), rawKey(t, nw, n.ids["DEU"][12])) {
		t.Fatal("rewrap changed the data key")
	}
	// The rewrapped key is no longer wrapped to the old epoch.
	var nomatch *age.NoIdentityMatchError
	if _, err := age.Decrypt(bytes.NewReader(nw.Wrapped), n.ids["DEU"][10]); !errors.As(err, &nomatch) {
		t.Fatalf("the old epoch identity on the rewrapped key: %v", err)
	}
	// FRA still seals the subject under the same key.
	s2 := mustSealSubject(t, fra.kr, subjN, 11, "FRA-N-1", "g", []string{"FRA", "DEU"}, "later")
	if s2.Key != s.Key {
		t.Fatal("after a rewrap FRA sealed the subject under a new key")
	}

	// DEU takes the rewrap in place of the old form and opens with epoch 12.
	if err := deuRing.Import(nw); err != nil {
		t.Fatalf("DEU imports the rewrap: %v", err)
	}
	wantOpen(t, deuRing, s, "FRA-N-1", "f", "kept")
	wantOpen(t, deuRing, s2, "FRA-N-1", "g", "later")
	if st, _, _ := deuStore.GetKey(s.Key); !st.equal(nw) {
		t.Fatal("DEU's store does not hold the rewrapped form")
	}
	if err := deuRing.Import(nw); err != nil {
		t.Fatalf("importing the same rewrap again: %v", err)
	}
	// The older form is not taken back.
	wantErrIs(t, deuRing.Import(old), ErrMalformed)
	if got := mustKey(t, deuRing, s.Key); !got.equal(nw) {
		t.Fatal("re-importing the old form replaced the rewrap")
	}

	// Both sides destroy epoch 10 and restart: the subject is still readable.
	delete(n.held["FRA"], 10)
	delete(n.held["DEU"], 10)
	fra2 := n.ring(t, "FRA", fra.store, n.held["FRA"])
	wantOpen(t, fra2, s, "FRA-N-1", "f", "kept")
	deu2 := n.ring(t, "DEU", deuStore, n.held["DEU"])
	wantOpen(t, deu2, s, "FRA-N-1", "f", "kept")

	// A rewrap to a later epoch again, by the restarted originator.
	nw2, err := fra2.Rewrap(s.Key, 12)
	if err != nil {
		t.Fatalf("second rewrap: %v", err)
	}
	if nw2.Epoch != 12 || !slices.Equal(nw2.Epochs, []uint64{12, 12}) {
		t.Fatalf("second rewrap: epoch %d, epochs %v", nw2.Epoch, nw2.Epochs)
	}
}

func TestRewrapRefusals(t *testing.T) {
	n := newEpochNet(t)
	fra, deu := n.nodes["FRA"], n.nodes["DEU"]
	s := mustSealSubject(t, fra.kr, subjN, 10, "FRA-N-1", "f", []string{"DEU", "FRA"}, "v")
	w := mustKey(t, fra.kr, s.Key)
	if err := deu.kr.Import(w); err != nil {
		t.Fatal(err)
	}
	plain := mustSeal(t, fra.kr, "e", "f", relFRADEU, []string{"DEU", "FRA"}, 10, "v")
	other := mustSealSubject(t, fra.kr, subjN, 10, "FRA-N-1", "f", []string{"DEU", "GBR"}, "v")
	puts := fra.store.puts.Load()

	// Only the originator rewraps.
	_, err := deu.kr.Rewrap(s.Key, 11)
	wantErrIs(t, err, ErrMalformed)
	// Only to a later epoch.
	for _, e := range []uint64{10, 9, 0} {
		_, err := fra.kr.Rewrap(s.Key, e)
		wantErrIs(t, err, ErrMalformed)
	}
	// Only a key it holds.
	_, err = fra.kr.Rewrap(newKeyID(), 11)
	wantErrIs(t, err, ErrNotReleased)
	// Only a subject key.
	_, err = fra.kr.Rewrap(plain.Key, 11)
	wantErrIs(t, err, ErrMalformed)
	// Only a key wrapped to the originator itself.
	_, err = fra.kr.Rewrap(other.Key, 11)
	wantErrIs(t, err, ErrNotReleased)
	// Not to an epoch a recipient never published.
	if _, err := fra.kr.Rewrap(s.Key, 13); err == nil {
		t.Fatal("rewrapped to an epoch nobody published")
	}
	if fra.store.puts.Load() != puts {
		t.Fatal("a refused rewrap stored a key")
	}
	if got := mustKey(t, fra.kr, s.Key); !got.equal(w) {
		t.Fatal("a refused rewrap changed the key")
	}
}

func TestImportRefusesWhatIsNotARewrap(t *testing.T) {
	n := newEpochNet(t)
	fra, deu := n.nodes["FRA"], n.nodes["DEU"]
	s := mustSealSubject(t, fra.kr, subjN, 10, "FRA-N-1", "f", []string{"DEU", "FRA"}, "v")
	w := mustKey(t, fra.kr, s.Key)
	if err := deu.kr.Import(w); err != nil {
		t.Fatal(err)
	}
	// Real wrapped forms of other keys, to two recipients, so the shape checks pass.
	fgS := mustSealSubject(t, fra.kr, subjN, 11, "FRA-N-1", "f", []string{"FRA", "GBR"}, "v")
	fg := mustKey(t, fra.kr, fgS.Key)
	laterS := mustSealSubject(t, fra.kr, "watchlist/FRA-N-2", 11, "FRA-N-2", "f", []string{"DEU", "FRA"}, "v")
	later := mustKey(t, fra.kr, laterS.Key)

	cases := map[string]func(x *WrappedKey){
		"other key, same epoch": func(x *WrappedKey) { x.Wrapped = later.Wrapped; x.Epochs = later.Epochs },
		"earlier epoch":         func(x *WrappedKey) { x.Epoch = 9; x.Wrapped = later.Wrapped },
		"other subject":         func(x *WrappedKey) { *x = later.clone(); x.ID = w.ID },
		"other recipients":      func(x *WrappedKey) { *x = fg.clone(); x.ID = w.ID },
		"other origin":          func(x *WrappedKey) { *x = later.clone(); x.ID, x.Subject, x.Origin = w.ID, w.Subject, "GBR" },
		"no longer a subject key": func(x *WrappedKey) {
			*x = later.clone()
			x.ID, x.Subject, x.Epochs = w.ID, "", nil
		},
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			x := w.clone()
			mut(&x)
			wantErrIs(t, deu.kr.Import(x), ErrMalformed)
			if got := mustKey(t, deu.kr, w.ID); !got.equal(w) {
				t.Fatal("a refused import replaced the key")
			}
			if st, _, _ := deu.store.GetKey(w.ID); !st.equal(w) {
				t.Fatal("a refused import reached the store")
			}
		})
	}
	// A plain key is never "rewrapped" by import.
	plain := mustSeal(t, fra.kr, "e", "f", relFRADEU, []string{"DEU", "FRA"}, 10, "v")
	pw := mustKey(t, fra.kr, plain.Key)
	if err := deu.kr.Import(pw); err != nil {
		t.Fatal(err)
	}
	bumped := pw.clone()
	bumped.Epoch = 11
	wantErrIs(t, deu.kr.Import(bumped), ErrMalformed)
}

func TestSubjectKeysPerSubjectAndSet(t *testing.T) {
	n := newEpochNet(t)
	fra := n.nodes["FRA"]
	a1 := mustSealSubject(t, fra.kr, "watchlist/A", 10, "A", "f", []string{"DEU", "FRA"}, "1")
	puts := fra.store.puts.Load()
	a2 := mustSealSubject(t, fra.kr, "watchlist/A", 10, "A", "g", []string{"FRA", "DEU", "FRA"}, "2")
	// The set decides the key, not the epoch asked for: one key per subject and set.
	a3 := mustSealSubject(t, fra.kr, "watchlist/A", 11, "A", "h", []string{"DEU", "FRA"}, "3")
	if a2.Key != a1.Key || a3.Key != a1.Key {
		t.Fatal("one subject and set got more than one key")
	}
	if fra.store.puts.Load() != puts {
		t.Fatal("reusing a subject key stored a key")
	}
	b := mustSealSubject(t, fra.kr, "watchlist/B", 10, "B", "f", []string{"DEU", "FRA"}, "1")
	if b.Key == a1.Key {
		t.Fatal("two subjects share a key")
	}
	aOther := mustSealSubject(t, fra.kr, "watchlist/A", 10, "A", "f", []string{"FRA", "GBR"}, "1")
	if aOther.Key == a1.Key {
		t.Fatal("two recipient sets share a subject key")
	}
	plain := mustSeal(t, fra.kr, "A", "f", relFRADEU, []string{"DEU", "FRA"}, 10, "1")
	if plain.Key == a1.Key || plain.Key == b.Key {
		t.Fatal("a plain seal used a subject key")
	}
	// A subject key and a plain key of another subject are different keys too.
	ka, kb := mustKey(t, fra.kr, a1.Key), mustKey(t, fra.kr, b.Key)
	if bytes.Equal(rawKey(t, ka, n.ids["FRA"][10]), rawKey(t, kb, n.ids["FRA"][10])) {
		t.Fatal("two subjects' keys wrap the same data key")
	}
	got := fra.kr.SubjectKeys()
	var ids []string
	for _, w := range got {
		if w.Subject == "" {
			t.Fatalf("SubjectKeys lists plain key %s", w.ID)
		}
		ids = append(ids, w.ID)
	}
	want := []string{a1.Key, b.Key, aOther.Key}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("SubjectKeys() = %v, want %v", ids, want)
	}

	// After a restart the stored key is used again.
	restarted := n.ring(t, "FRA", fra.store, n.held["FRA"])
	puts = fra.store.puts.Load()
	again := mustSealSubject(t, restarted, "watchlist/A", 10, "A", "f", []string{"DEU", "FRA"}, "4")
	if again.Key != a1.Key || fra.store.puts.Load() != puts {
		t.Fatalf("after a restart: key %s (want %s), %d new keys", again.Key, a1.Key, fra.store.puts.Load()-puts)
	}
	wantOpen(t, restarted, a1, "A", "f", "1")
}

func TestOpenWithKeyOfSubjectKey(t *testing.T) {
	n := newEpochNet(t)
	fra := n.nodes["FRA"]
	s := mustSealSubject(t, fra.kr, subjN, 10, "FRA-N-1", "fields.party", []string{"DEU", "FRA"}, "secret")
	w := mustKey(t, fra.kr, s.Key)
	raw := rawKey(t, w, n.ids["DEU"][10])
	if len(raw) != 32 {
		t.Fatalf("the wrapped key is %d bytes, want 32", len(raw))
	}
	got, err := OpenWithKey(raw, s, "FRA-N-1", "fields.party")
	if err != nil || string(got) != "secret" {
		t.Fatalf("OpenWithKey: %q, %v", got, err)
	}
	_, err = OpenWithKey(raw, s, "FRA-N-2", "fields.party")
	wantErrIs(t, err, ErrTampered)
	_, err = OpenWithKey(raw, s, "FRA-N-1", "fields.basis")
	wantErrIs(t, err, ErrTampered)
	_, err = OpenWithKey(raw, withKey(s, newKeyID()), "FRA-N-1", "fields.party")
	wantErrIs(t, err, ErrTampered)
	wrong := slices.Clone(raw)
	wrong[0] ^= 1
	_, err = OpenWithKey(wrong, s, "FRA-N-1", "fields.party")
	wantErrIs(t, err, ErrTampered)
	_, err = OpenWithKey(raw[:31], s, "FRA-N-1", "fields.party")
	wantErrIs(t, err, ErrMalformed)
}

func TestImportChecksSubjectKeyShape(t *testing.T) {
	n := newEpochNet(t)
	fra, deu := n.nodes["FRA"], n.nodes["DEU"]
	s := mustSealSubject(t, fra.kr, subjN, 10, "FRA-N-1", "f", []string{"DEU", "FRA"}, "v")
	good := mustKey(t, fra.kr, s.Key)
	ps := mustSeal(t, fra.kr, "e", "f", relFRADEU, []string{"DEU", "FRA"}, 10, "v")
	plain := mustKey(t, fra.kr, ps.Key)

	cases := map[string]WrappedKey{}
	add := func(name string, from WrappedKey, mut func(*WrappedKey)) {
		w := from.clone()
		w.ID = newKeyID()
		mut(&w)
		cases[name] = w
	}
	add("epochs without a subject", plain, func(w *WrappedKey) { w.Epochs = []uint64{10, 10} })
	add("subject without epochs", plain, func(w *WrappedKey) { w.Subject = subjN })
	add("too few epochs", good, func(w *WrappedKey) { w.Epochs = []uint64{10} })
	add("too many epochs", good, func(w *WrappedKey) { w.Epochs = []uint64{10, 10, 10} })
	add("subject without origin", good, func(w *WrappedKey) { w.Origin = "" })
	add("subject too long", good, func(w *WrappedKey) { w.Subject = strings.Repeat("s", MaxBindingLen+1) })
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			wantErrIs(t, deu.kr.Import(w), ErrMalformed)
			if _, ok := deu.kr.Key(w.ID); ok {
				t.Fatal("a refused key is held")
			}
			if _, ok, _ := deu.store.GetKey(w.ID); ok {
				t.Fatal("a refused key was stored")
			}
		})
	}
	// A damaged subject key in the store stops the keyring.
	bad := NewMemStore()
	if err := bad.PutKey(cases["too few epochs"]); err != nil {
		t.Fatal(err)
	}
	if _, err := NewKeyring("DEU", deu.id, n.dir, bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("NewKeyring over a store with a malformed subject key: %v", err)
	}
}

// TestImportOwnSubjectKey: a node that lost its copy of one of its subject keys gets it
// back from the federation and opens with it; a plain key claiming to be its own is
// still refused.
func TestImportOwnSubjectKey(t *testing.T) {
	n := newEpochNet(t)
	fra := n.nodes["FRA"]
	s := mustSealSubject(t, fra.kr, subjN, 10, "FRA-N-1", "f", []string{"DEU", "FRA"}, "v")
	w := mustKey(t, fra.kr, s.Key)
	lost := n.ring(t, "FRA", NewMemStore(), n.held["FRA"])
	if err := lost.Import(w); err != nil {
		t.Fatalf("importing its own subject key: %v", err)
	}
	wantOpen(t, lost, s, "FRA-N-1", "f", "v")

	ps := mustSeal(t, fra.kr, "e", "f", relFRADEU, []string{"DEU", "FRA"}, 10, "v")
	wantErrIs(t, lost.Import(mustKey(t, fra.kr, ps.Key)), ErrMalformed)
}

// TestOpenWhileRewrapArrives opens a subject value on a node at the moment the rewrap of
// its key is imported, as a node's API and its key housekeeping do concurrently. Run
// with -race.
func TestOpenWhileRewrapArrives(t *testing.T) {
	n := newEpochNet(t)
	fra := n.nodes["FRA"]
	s := mustSealSubject(t, fra.kr, subjN, 10, "FRA-N-1", "f", []string{"DEU", "FRA"}, "v")
	old := mustKey(t, fra.kr, s.Key)
	nw, err := fra.kr.Rewrap(s.Key, 11)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		kr := n.ring(t, "DEU", NewMemStore(), n.held["DEU"])
		if err := kr.Import(old); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var openErr error
		wg.Go(func() {
			_, openErr = kr.Open(s, "FRA-N-1", "f")
		})
		importErr := kr.Import(nw)
		wg.Wait()
		if openErr != nil || importErr != nil {
			t.Fatalf("open: %v; import: %v", openErr, importErr)
		}
		wantOpen(t, kr, s, "FRA-N-1", "f", "v")
	}
	// On the originator, sealing a new value of the subject while the key is rewrapped.
	for i := range 20 {
		kr := n.ring(t, "FRA", NewMemStore(), n.held["FRA"])
		mine := mustSealSubject(t, kr, subjN, 10, "FRA-N-1", "f", []string{"DEU", "FRA"}, "v")
		var wg sync.WaitGroup
		var sealErr error
		var sealed Sealed
		wg.Go(func() {
			sealed, sealErr = kr.SealSubject(subjN, 10, "FRA-N-1", "g", relFRADEU, []string{"DEU", "FRA"}, []byte("w"))
		})
		_, rewrapErr := kr.Rewrap(mine.Key, uint64(11+i%2))
		wg.Wait()
		if sealErr != nil || rewrapErr != nil {
			t.Fatalf("seal: %v; rewrap: %v", sealErr, rewrapErr)
		}
		if sealed.Key != mine.Key {
			t.Fatal("a seal during a rewrap used another key")
		}
		wantOpen(t, kr, sealed, "FRA-N-1", "g", "w")
	}
}
