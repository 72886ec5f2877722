package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

const relFRADEU = "REL TO FRA,DEU"

func TestReleaseToRecipientsOnly(t *testing.T) {
	nodes, _ := federation(t, "FRA", "DEU", "GBR")
	fra, deu, gbr := nodes["FRA"], nodes["DEU"], nodes["GBR"]
	secret := "Rosoboronexport-linked broker, Limassol"
	s := mustSeal(t, fra.kr, "wl-0001", "party.names[0]", relFRADEU, []string{"DEU", "FRA"}, 7, secret)

	if got, err := fra.kr.Open(s, "wl-0001", "party.names[0]"); err != nil || string(got) != secret {
		t.Fatalf("FRA opens its own value: %q, %v", got, err)
	}

	// DEU has no key until FRA's wrapped key reaches it.
	_, err := deu.kr.Open(s, "wl-0001", "party.names[0]")
	wantErrIs(t, err, ErrNotReleased)
	importAll(t, fra, deu)
	if got, err := deu.kr.Open(s, "wl-0001", "party.names[0]"); err != nil || string(got) != secret {
		t.Fatalf("DEU opens with its own identity: %q, %v", got, err)
	}

	// GBR holds the wrapped key too, but it was not wrapped to GBR.
	importAll(t, fra, gbr)
	_, err = gbr.kr.Open(s, "wl-0001", "party.names[0]")
	wantErrIs(t, err, ErrNotReleased)

	// That refusal is cryptographic, not a list check: GBR's real identity matches no
	// stanza of the wrapped key.
	w, ok, _ := fra.store.GetKey(s.Key)
	if !ok {
		t.Fatal("FRA did not store its wrapped key")
	}
	_, err = age.Decrypt(bytes.NewReader(w.Wrapped), gbr.id)
	var nomatch *age.NoIdentityMatchError
	if !errors.As(err, &nomatch) {
		t.Fatalf("age.Decrypt with GBR's identity: %v, want NoIdentityMatchError", err)
	}
	// Nor does relabelling the recipients help GBR: swap DEU for GBR in the list (the
	// stanza count still matches) and import it under a fresh keyring.
	forged := w.clone()
	forged.Recipients = []string{"FRA", "GBR"}
	gbr2, err := NewKeyring("GBR", gbr.id, testDir{}, NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	if err := gbr2.Import(forged); err != nil {
		t.Fatalf("import of relabelled key: %v", err)
	}
	_, err = gbr2.Open(s, "wl-0001", "party.names[0]")
	wantErrIs(t, err, ErrNotReleased)
}

func TestWrappedKeyShape(t *testing.T) {
	nodes, _ := federation(t, "FRA", "DEU", "GBR", "ITA", "POL")
	fra := nodes["FRA"]
	s := mustSeal(t, fra.kr, "e", "f", "REL TO FEDERATION", []string{"POL", "ITA", "GBR", "FRA", "DEU", "FRA"}, 1, "x")
	w, ok, err := fra.store.GetKey(s.Key)
	if err != nil || !ok {
		t.Fatalf("GetKey: %v %v", ok, err)
	}
	if want := []string{"DEU", "FRA", "GBR", "ITA", "POL"}; !slices.Equal(w.Recipients, want) {
		t.Fatalf("recipients %v, want the sorted set %v", w.Recipients, want)
	}
	if w.Origin != "FRA" || w.Epoch != 1 || w.ID != s.Key || !validKeyID(w.ID) {
		t.Fatalf("wrapped key %+v", w)
	}
	types, err := stanzaTypes(w.Wrapped)
	if err != nil || len(types) != 5 {
		t.Fatalf("stanzas %v, %v; want one per recipient", types, err)
	}
	// Every listed state, and only they, can unwrap it with its real identity.
	for code, n := range nodes {
		key, err := unwrapKey(w.Wrapped, n.id)
		if err != nil {
			t.Fatalf("%s cannot unwrap: %v", code, err)
		}
		if key != fra.kr.keys[s.Key].key {
			t.Fatalf("%s unwrapped a different key", code)
		}
	}
	outsider, _ := age.GenerateX25519Identity()
	if _, err := unwrapKey(w.Wrapped, outsider); !errors.Is(err, errNoStanzaForUs) {
		t.Fatalf("outsider unwrap: %v", err)
	}
}

func TestBinding(t *testing.T) {
	nodes, _ := federation(t, "FRA", "DEU")
	fra := nodes["FRA"]
	rc := []string{"FRA", "DEU"}
	s := mustSeal(t, fra.kr, "wl-0001", "party.names[0]", relFRADEU, rc, 1, "Acme Trading FZE")
	other := mustSeal(t, fra.kr, "wl-0001", "party.names[0]", relFRADEU, rc, 2, "Acme Trading FZE")
	if other.Key == s.Key {
		t.Fatal("two epochs share a key")
	}

	cases := map[string]struct {
		s            Sealed
		entry, field string
	}{
		"other entry":        {s, "wl-0002", "party.names[0]"},
		"other field":        {s, "wl-0001", "party.names[1]"},
		"other marking":      {withMarking(s, "REL TO FRA,DEU,GBR"), "wl-0001", "party.names[0]"},
		"marking reordered":  {withMarking(s, "REL TO DEU,FRA"), "wl-0001", "party.names[0]"},
		"other key same set": {withKey(s, other.Key), "wl-0001", "party.names[0]"},
		"ciphertext bit":     {flip(s, len(s.CT)-20), "wl-0001", "party.names[0]"},
		"nonce bit":          {flip(s, 3), "wl-0001", "party.names[0]"},
		"tag bit":            {flip(s, len(s.CT)-1), "wl-0001", "party.names[0]"},
		"truncated":          {Sealed{V: s.V, Marking: s.Marking, Key: s.Key, CT: s.CT[:len(s.CT)-1]}, "wl-0001", "party.names[0]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := fra.kr.Open(tc.s, tc.entry, tc.field)
			wantErrIs(t, err, ErrTampered)
		})
	}
	// Length prefixes: "a"+"bc" must not authenticate as "ab"+"c".
	amb := mustSeal(t, fra.kr, "a", "bc", relFRADEU, rc, 1, "x")
	_, err := fra.kr.Open(amb, "ab", "c")
	wantErrIs(t, err, ErrTampered)
	if _, err := fra.kr.Open(amb, "a", "bc"); err != nil {
		t.Fatalf("control: %v", err)
	}
	// The original still opens, so the failures above are due to the changes alone.
	if _, err := fra.kr.Open(s, "wl-0001", "party.names[0]"); err != nil {
		t.Fatal(err)
	}
	// A value of another version is refused before any cryptography.
	v2 := s
	v2.V = 2
	_, err = fra.kr.Open(v2, "wl-0001", "party.names[0]")
	wantErrIs(t, err, ErrMalformed)
}

func withMarking(s Sealed, m string) Sealed { s.Marking = m; return s }
func withKey(s Sealed, k string) Sealed     { s.Key = k; return s }
func flip(s Sealed, i int) Sealed {
	s.CT = bytes.Clone(s.CT)
	s.CT[i] ^= 0x01
	return s
}

func TestBindingAADIsUnambiguous(t *testing.T) {
	seen := map[string]string{}
	tuples := [][4]string{
		{"k", "a", "bc", "m"}, {"k", "ab", "c", "m"}, {"k", "a", "b", "cm"},
		{"ka", "", "bc", "m"}, {"k", "a", "bcm", ""}, {"", "ka", "bc", "m"},
	}
	for _, tp := range tuples {
		aad := string(bindingAAD(tp[0], tp[1], tp[2], tp[3]))
		if prev, dup := seen[aad]; dup {
			t.Fatalf("%v and %s encode alike", tp, prev)
		}
		seen[aad] = strings.Join(tp[:], "|")
		if !strings.Contains(aad, domain) {
			t.Fatal("domain string missing from AAD")
		}
	}
}

// The field cipher is assembled from HChaCha20 and ChaCha20-Poly1305; it must be
// byte-for-byte XChaCha20-Poly1305 as x/crypto implements it.
func TestFieldCipherIsXChaCha20Poly1305(t *testing.T) {
	for _, n := range []int{0, 1, 64, 1000} {
		var key dataKey
		rand.Read(key[:])
		pt := make([]byte, n)
		rand.Read(pt)
		aad := bindingAAD("k1AAAAAAAAAAAAAAAAAAAAAA", "e", "f", "m")
		ct := sealField(&key, aad, pt)
		x, err := chacha20poly1305.NewX(key[:])
		if err != nil {
			t.Fatal(err)
		}
		want := x.Seal(nil, ct[:nonceSize], pt, aad)
		if !bytes.Equal(ct[nonceSize:], want) {
			t.Fatalf("%d bytes: differs from chacha20poly1305.NewX", n)
		}
		got, err := x.Open(nil, ct[:nonceSize], ct[nonceSize:], aad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("NewX cannot open our ciphertext: %v", err)
		}
		back, err := openField(&key, aad, ct)
		if err != nil || !bytes.Equal(back, pt) {
			t.Fatalf("openField: %v", err)
		}
	}
}

func TestSealReusesKeyAndSurvivesRestart(t *testing.T) {
	nodes, dir := federation(t, "FRA", "DEU")
	fra := nodes["FRA"]
	a := mustSeal(t, fra.kr, "e1", "f", relFRADEU, []string{"FRA", "DEU"}, 3, "one")
	b := mustSeal(t, fra.kr, "e2", "f", relFRADEU, []string{"DEU", "FRA"}, 3, "two")
	if a.Key != b.Key || fra.store.puts.Load() != 1 {
		t.Fatalf("keys %s %s, %d stored; want one key reused", a.Key, b.Key, fra.store.puts.Load())
	}
	if bytes.Equal(a.CT[:nonceSize], b.CT[:nonceSize]) {
		t.Fatal("two seals used the same nonce")
	}

	restarted, err := NewKeyring("FRA", fra.id, dir, fra.store)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := restarted.Open(a, "e1", "f"); err != nil || string(got) != "one" {
		t.Fatalf("open after restart: %q, %v", got, err)
	}
	c := mustSeal(t, restarted, "e3", "f", relFRADEU, []string{"FRA", "DEU"}, 3, "three")
	if c.Key != a.Key || fra.store.puts.Load() != 1 {
		t.Fatalf("after restart Seal used %s (%d stored), want the stored key %s", c.Key, fra.store.puts.Load(), a.Key)
	}
}

func TestOpenRefusesWhenSelfNotARecipient(t *testing.T) {
	nodes, _ := federation(t, "FRA", "DEU")
	fra, deu := nodes["FRA"], nodes["DEU"]
	// FRA seals for DEU alone: FRA generated the key, but was not released the value.
	s := mustSeal(t, fra.kr, "e", "f", "REL TO DEU", []string{"DEU"}, 1, "for DEU only")
	_, err := fra.kr.Open(s, "e", "f")
	wantErrIs(t, err, ErrNotReleased)
	importAll(t, fra, deu)
	if got, err := deu.kr.Open(s, "e", "f"); err != nil || string(got) != "for DEU only" {
		t.Fatalf("DEU: %q, %v", got, err)
	}
}

func TestDestroyShredsKey(t *testing.T) {
	nodes, dir := federation(t, "FRA", "DEU")
	fra := nodes["FRA"]
	s := mustSeal(t, fra.kr, "wl-0009", "party.name", relFRADEU, []string{"FRA", "DEU"}, 4, "Sensitive Party Ltd")

	e := fra.kr.keys[s.Key]
	raw := e.key
	if raw == (dataKey{}) {
		t.Fatal("no cached key to compare against")
	}
	w, _, _ := fra.store.GetKey(s.Key)
	// Before: the store's wrapped form is a path back to the key for FRA's identity.
	if got, err := unwrapKey(w.Wrapped, fra.id); err != nil || got != raw {
		t.Fatalf("wrapped key does not lead back to the data key: %v", err)
	}
	if dumpContains(fra.store.MemStore, raw[:]) {
		t.Fatal("store holds the data key in the clear")
	}

	if err := fra.kr.Destroy(s.Key); err != nil {
		t.Fatal(err)
	}
	_, err := fra.kr.Open(s, "wl-0009", "party.name")
	wantErrIs(t, err, ErrNotReleased)
	if e.key != (dataKey{}) {
		t.Fatal("the cached key bytes were not zeroed")
	}
	if _, ok, _ := fra.store.GetKey(s.Key); ok {
		t.Fatal("wrapped key still in the store")
	}
	if dumpContains(fra.store.MemStore, raw[:]) || dumpContains(fra.store.MemStore, w.Wrapped[len(w.Wrapped)-64:]) {
		t.Fatal("store still holds the key or its wrapped form")
	}
	restarted, err := NewKeyring("FRA", fra.id, dir, fra.store)
	if err != nil {
		t.Fatal(err)
	}
	_, err = restarted.Open(s, "wl-0009", "party.name")
	wantErrIs(t, err, ErrNotReleased)
	// Seal again in that set and epoch: a new key, never the destroyed one.
	s2 := mustSeal(t, fra.kr, "wl-0010", "party.name", relFRADEU, []string{"FRA", "DEU"}, 4, "x")
	if s2.Key == s.Key || fra.kr.keys[s2.Key].key == raw {
		t.Fatal("destroyed key came back")
	}
	// Idempotent.
	if err := fra.kr.Destroy(s.Key); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
	if err := fra.kr.Destroy("wl-0009"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Destroy of a non-key id: %v", err)
	}
}

// dumpContains scans everything a MemStore holds for needle.
func dumpContains(m *MemStore, needle []byte) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for id, w := range m.keys {
		hay := slices.Concat([]byte(id), []byte(w.ID), []byte(strings.Join(w.Recipients, ",")), []byte(w.Origin), w.Wrapped)
		if bytes.Contains(hay, needle) {
			return true
		}
	}
	return false
}

func TestDestroyEpochsBefore(t *testing.T) {
	nodes, _ := federation(t, "FRA", "DEU")
	fra, deu := nodes["FRA"], nodes["DEU"]
	rc := []string{"FRA", "DEU"}
	var sealed []Sealed
	for ep := uint64(1); ep <= 3; ep++ {
		sealed = append(sealed, mustSeal(t, fra.kr, "e", "f", relFRADEU, rc, ep, "v"))
	}
	importAll(t, fra, deu)
	// DEU also holds a key of its own for epoch 1.
	deuOwn := mustSeal(t, deu.kr, "e", "f", relFRADEU, rc, 1, "v")

	ids, err := deu.kr.DestroyEpochsBefore(3)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{sealed[0].Key, sealed[1].Key, deuOwn.Key}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("destroyed %v, want %v", ids, want)
	}
	for i, s := range append(sealed[:2:2], deuOwn) {
		if _, err := deu.kr.Open(s, "e", "f"); !errors.Is(err, ErrNotReleased) {
			t.Fatalf("value %d after shredding: %v", i, err)
		}
	}
	if _, err := deu.kr.Open(sealed[2], "e", "f"); err != nil {
		t.Fatalf("epoch 3 must survive: %v", err)
	}
	left, _ := deu.store.ListKeys()
	if len(left) != 1 || left[0].ID != sealed[2].Key {
		t.Fatalf("store keeps %v", left)
	}
	// FRA has not shredded yet: every holder must destroy its copy.
	if _, err := fra.kr.Open(sealed[0], "e", "f"); err != nil {
		t.Fatalf("FRA before its own sweep: %v", err)
	}
}

func TestConcurrentSealCreatesOneKeyPerSetAndEpoch(t *testing.T) {
	nodes, _ := federation(t, "FRA", "DEU", "GBR", "ITA", "POL")
	fra := nodes["FRA"]
	orders := [][]string{
		{"FRA", "DEU", "GBR"}, {"GBR", "FRA", "DEU"}, {"DEU", "GBR", "FRA", "FRA"},
	}
	const workers, each = 16, 20
	keys := make([][]string, workers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range workers {
		wg.Go(func() {
			<-start
			for i := range each {
				rc := orders[(g+i)%len(orders)]
				epoch := uint64(i % 2)
				s, err := fra.kr.Seal("e", "f", "REL TO FRA,DEU,GBR", rc, epoch, []byte{byte(g), byte(i)})
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := fra.kr.Open(s, "e", "f"); err != nil || !bytes.Equal(got, []byte{byte(g), byte(i)}) {
					t.Errorf("open: %v", err)
					return
				}
				keys[g] = append(keys[g], s.Key)
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	distinct := map[string]bool{}
	for _, ks := range keys {
		for _, k := range ks {
			distinct[k] = true
		}
	}
	if len(distinct) != 2 || fra.store.puts.Load() != 2 {
		t.Fatalf("%d distinct keys, %d stored; want exactly 2 (one per epoch)", len(distinct), fra.store.puts.Load())
	}
	list, _ := fra.store.ListKeys()
	if len(list) != 2 {
		t.Fatalf("store holds %d keys", len(list))
	}
}

// Concurrent creation that fails (a state missing from the roster) fails for every waiter
// and stores nothing.
func TestSealFailsCleanly(t *testing.T) {
	nodes, _ := federation(t, "FRA", "DEU")
	fra := nodes["FRA"]
	cases := map[string]func() error{
		"unknown state": func() error {
			_, err := fra.kr.Seal("e", "f", "REL TO FRA,XYZ", []string{"FRA", "XYZ"}, 1, nil)
			return err
		},
		"empty entry": func() error { _, err := fra.kr.Seal("", "f", "m", []string{"FRA"}, 1, nil); return err },
		"empty field": func() error { _, err := fra.kr.Seal("e", "", "m", []string{"FRA"}, 1, nil); return err },
		"empty marking": func() error {
			_, err := fra.kr.Seal("e", "f", "", []string{"FRA"}, 1, nil)
			return err
		},
		"marking with newline": func() error {
			_, err := fra.kr.Seal("e", "f", "REL TO FRA\n", []string{"FRA"}, 1, nil)
			return err
		},
		"no recipients": func() error { _, err := fra.kr.Seal("e", "f", "m", nil, 1, nil); return err },
		"bad state code": func() error {
			_, err := fra.kr.Seal("e", "f", "m", []string{"FRA", "de u"}, 1, nil)
			return err
		},
		"too large": func() error {
			_, err := fra.kr.Seal("e", "f", "m", []string{"FRA"}, 1, make([]byte, MaxPlaintext+1))
			return err
		},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			if err := f(); err == nil {
				t.Fatal("sealed")
			}
		})
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := fra.kr.Seal("e", "f", "m", []string{"FRA", "XYZ"}, 2, nil); err == nil {
				t.Error("sealed to a state without a recipient")
			}
		})
	}
	wg.Wait()
	if n := fra.store.puts.Load(); n != 0 {
		t.Fatalf("%d keys stored by failed seals", n)
	}
	if len(fra.kr.flights) != 0 {
		t.Fatal("a failed creation left a flight behind")
	}
}

func TestImportChecks(t *testing.T) {
	nodes, dir := federation(t, "FRA", "DEU", "GBR")
	fra, deu := nodes["FRA"], nodes["DEU"]
	s := mustSeal(t, fra.kr, "e", "f", relFRADEU, []string{"FRA", "DEU"}, 1, "v")
	good, _, _ := fra.store.GetKey(s.Key)

	if err := deu.kr.Import(good); err != nil {
		t.Fatal(err)
	}
	if err := deu.kr.Import(good); err != nil {
		t.Fatalf("re-import: %v", err)
	}
	// Seals on DEU never use FRA's key, even for the same set and epoch.
	own := mustSeal(t, deu.kr, "e", "f", relFRADEU, []string{"FRA", "DEU"}, 1, "v")
	if own.Key == good.ID {
		t.Fatal("DEU sealed under a key it imported")
	}

	threeWrapped := func() []byte {
		var key dataKey
		b, err := wrapKey(&key, []age.Recipient{dir["FRA"], dir["DEU"], dir["GBR"]})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}()
	scrypt, _ := age.NewScryptRecipient("passphrase")
	scrypt.SetWorkFactor(10)
	var scryptBuf bytes.Buffer
	sw, _ := age.Encrypt(&scryptBuf, scrypt)
	sw.Write(make([]byte, 32))
	sw.Close()

	mut := map[string]func(w *WrappedKey){
		"bad id":                 func(w *WrappedKey) { w.ID = "k2" + w.ID[2:] },
		"short id":               func(w *WrappedKey) { w.ID = w.ID[:10] },
		"no recipients":          func(w *WrappedKey) { w.Recipients = nil },
		"unsorted recipients":    func(w *WrappedKey) { w.Recipients = []string{"FRA", "DEU"} },
		"duplicate recipients":   func(w *WrappedKey) { w.Recipients = []string{"DEU", "DEU"} },
		"lowercase recipient":    func(w *WrappedKey) { w.Recipients = []string{"DEU", "fra"} },
		"hidden recipient":       func(w *WrappedKey) { w.Wrapped = threeWrapped },
		"not age":                func(w *WrappedKey) { w.Wrapped = []byte("not an age file") },
		"empty wrapped":          func(w *WrappedKey) { w.Wrapped = nil },
		"too large":              func(w *WrappedKey) { w.Wrapped = make([]byte, maxWrapped+1) },
		"passphrase stanza":      func(w *WrappedKey) { w.Recipients = []string{"DEU"}; w.Wrapped = scryptBuf.Bytes() },
		"bad origin":             func(w *WrappedKey) { w.Origin = "fr a" },
		"conflicting same id":    func(w *WrappedKey) { w.Epoch = 99 },
		"claims to be from self": func(w *WrappedKey) { w.ID = newKeyID(); w.Origin = "DEU" },
	}
	for name, m := range mut {
		t.Run(name, func(t *testing.T) {
			w := good.clone()
			m(&w)
			before, _ := deu.store.ListKeys()
			if err := deu.kr.Import(w); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Import: %v, want ErrMalformed", err)
			}
			after, _ := deu.store.ListKeys()
			if len(after) != len(before) {
				t.Fatal("a refused key was stored")
			}
		})
	}
}

func TestNewKeyringRefusesDamagedStore(t *testing.T) {
	nodes, dir := federation(t, "FRA")
	fra := nodes["FRA"]
	mustSeal(t, fra.kr, "e", "f", "REL TO FRA", []string{"FRA"}, 1, "v")
	if err := fra.store.PutKey(WrappedKey{ID: newKeyID(), Recipients: []string{"FRA"}, Wrapped: []byte("junk")}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewKeyring("FRA", fra.id, dir, fra.store); !errors.Is(err, ErrMalformed) {
		t.Fatalf("NewKeyring over a damaged store: %v", err)
	}
	if _, err := NewKeyring("fr", fra.id, dir, NewMemStore()); err == nil {
		t.Fatal("accepted a bad own state code")
	}
	if _, err := NewKeyring("FRA", nil, dir, NewMemStore()); err == nil {
		t.Fatal("accepted a nil identity")
	}
}

func TestErrorsCarryNoKeyMaterial(t *testing.T) {
	nodes, _ := federation(t, "FRA", "DEU")
	fra := nodes["FRA"]
	s := mustSeal(t, fra.kr, "e", "f", relFRADEU, []string{"FRA", "DEU"}, 1, "v")
	key := fra.kr.keys[s.Key].key
	_, err := fra.kr.Open(flip(s, 30), "e", "f")
	wantErrIs(t, err, ErrTampered)
	msg := err.Error()
	for _, form := range []string{string(key[:]), b64.EncodeToString(key[:]), hex.EncodeToString(key[:])} {
		if strings.Contains(msg, form) {
			t.Fatal("error message contains the data key")
		}
	}
}

func TestUnwrapRefusesWrongLength(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	for _, n := range []int{31, 33} {
		var buf bytes.Buffer
		w, _ := age.Encrypt(&buf, id.Recipient())
		w.Write(make([]byte, n))
		w.Close()
		if _, err := unwrapKey(buf.Bytes(), id); !errors.Is(err, errUnwrap) {
			t.Fatalf("%d-byte key: %v", n, err)
		}
	}
}
