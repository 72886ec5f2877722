package command

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/crypto/seal"
)

type dir map[string]age.Recipient

func (d dir) Recipient(s string) (age.Recipient, error) {
	if r, ok := d[s]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("unknown %s", s)
}

// EpochRecipient makes dir an epoch directory that publishes every state for epoch 7.
func (d dir) EpochRecipient(s string, _ uint64) (age.Recipient, uint64, error) {
	r, err := d.Recipient(s)
	return r, 7, err
}

type epochIDs struct{ id age.Identity }

func (e epochIDs) EpochIdentity(uint64) (age.Identity, bool) { return e.id, true }

type fixture struct {
	ring   *seal.Keyring
	signer *jws.Signer
	keys   *jws.KeySet
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	fra, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	deu, _ := age.GenerateX25519Identity()
	d := dir{"FRA": fra.Recipient(), "DEU": deu.Recipient()}
	ring, err := seal.NewKeyring("FRA", fra, d, seal.NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	ring.UseEpochs(d, epochIDs{fra})
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s := jws.NewSigner(priv)
	ks := jws.NewKeySet()
	ks.Add(s.Public())
	return &fixture{ring: ring, signer: s, keys: ks}
}

func (f *fixture) sealed(t testing.TB, entry, field, marking string, v any) Field {
	t.Helper()
	b, _ := json.Marshal(v)
	s, err := f.ring.Seal(entry, field, marking, []string{"DEU", "FRA"}, 1, b)
	if err != nil {
		t.Fatal(err)
	}
	return Field{Marking: marking, Sealed: &s}
}

func (f *fixture) payloads(t testing.TB) []Payload {
	rel := "REL TO DEU,FRA"
	recipient, _ := age.GenerateX25519Identity()
	return []Payload{
		&Nominate{ID: "FRA-N-1", Kind: "denied-party", Fields: map[string]Field{
			"party":     f.sealed(t, "watchlist/FRA-N-1", "fields.party", rel, map[string]any{"type": "organisation", "name": "Zorbatek Trading FZE"}),
			"basis":     {Marking: "PUBLIC", Plain: json.RawMessage(`{"regime":"national","control_codes":["ML4"]}`)},
			"rationale": f.sealed(t, "watchlist/FRA-N-1", "fields.rationale", rel, "diversion to a third country"),
		}},
		&Vote{Entry: "FRA-N-1", Position: "endorse"},
		&Vote{Entry: "FRA-N-1", Position: "object", Blocking: true, Reason: ptr(f.sealed(t, "vote/FRA-N-1/DEU", "reason", rel, "insufficient basis"))},
		&Appeal{Entry: "FRA-N-1", Grounds: f.sealed(t, "appeal/FRA-N-1", "grounds", rel, "mistaken identity")},
		&AppealVote{Entry: "FRA-N-1", Decision: "delist"},
		&Renew{Entry: "FRA-N-1"},
		&Transition{Subject: "watchlist/FRA-N-1", To: "closed"},
		&Indicator{ID: "FRA-I-1", Kind: "diversion", Subject: Field{Marking: "PUBLIC", Plain: json.RawMessage(`"IRN"`)}, Severity: 4,
			Evidence: f.sealed(t, "indicator/FRA-I-1", "evidence", rel, "consignment re-routed"), ValidUntil: 1_900_000_000},
		&Corroborate{Indicator: "FRA-I-1"},
		&Withdraw{Indicator: "FRA-I-1"},
		&EpochKey{Epoch: 7, Recipient: recipient.Recipient().String()},
		&Membership{ID: "M-1", Action: "admit", Member: f.card(recipient)},
		&Membership{ID: "M-2", Action: "remove", State: "ITA"},
		&MemberVote{Proposal: "M-1", Position: "object", Blocking: true},
		&Rewrap{Key: f.subjectKey(t, "watchlist/FRA-N-1")},
		&Decide{Entry: "FRA-N-1", Decision: "reject"},
	}
}

// subjectKey seals one value under subject's own key and returns that key.
func (f *fixture) subjectKey(t testing.TB, subject string) seal.WrappedKey {
	t.Helper()
	if _, err := f.ring.SealSubject(subject, 7, subject, "fields.party", "REL TO DEU,FRA", []string{"DEU", "FRA"}, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	for _, w := range f.ring.SubjectKeys() {
		if w.Subject == subject {
			return w
		}
	}
	t.Fatalf("no subject key for %s", subject)
	return seal.WrappedKey{}
}

func (f *fixture) card(r *age.X25519Identity) *MemberCard {
	kb, _ := f.keys.MarshalJSON()
	return &MemberCard{Code: "NLD", Role: "member", SigningKeys: kb, AgeRecipient: r.Recipient().String(),
		TLSPin: "sha256:bmxkLXBpbg==", RaftAddr: "127.0.0.15:7443", GossipAddr: "127.0.0.15:7946", APIURL: "https://127.0.0.15:8443"}
}

func ptr[T any](v T) *T { return &v }

// TestRoundTripEveryType builds, signs, marshals, unmarshals, verifies and decodes one
// command of every type.
func TestRoundTripEveryType(t *testing.T) {
	f := newFixture(t)
	seen := map[Type]bool{}
	for _, p := range f.payloads(t) {
		c, err := New("FRA", p)
		if err != nil {
			t.Fatalf("%s: %v", p.Type(), err)
		}
		if err := c.Sign(f.signer); err != nil {
			t.Fatal(err)
		}
		raw, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		entry := MarshalEntry(Entry{Stamp: 1_800_000_000_000_000_000, Command: raw})
		e, err := UnmarshalEntry(entry)
		if err != nil || e.Stamp != 1_800_000_000_000_000_000 {
			t.Fatalf("%s: entry: %v %d", p.Type(), err, e.Stamp)
		}
		got, err := Unmarshal(e.Command)
		if err != nil {
			t.Fatalf("%s: %v", p.Type(), err)
		}
		if _, err := got.Verify(f.keys); err != nil {
			t.Fatalf("%s: verify: %v", p.Type(), err)
		}
		dp, err := Decode(got)
		if err != nil {
			t.Fatalf("%s: decode: %v", p.Type(), err)
		}
		want, _ := json.Marshal(p)
		have, _ := json.Marshal(dp)
		if !bytes.Equal(want, have) {
			t.Fatalf("%s: decoded payload differs:\n%s\n%s", p.Type(), want, have)
		}
		seen[p.Type()] = true
	}
	for ty := range typeNames {
		if !seen[ty] {
			t.Errorf("no round trip for %s", ty)
		}
	}
}

// TestSignatureBindsEverything changes each signed part of a command after signing; every
// change must fail verification, and another state's key must not verify.
func TestSignatureBindsEverything(t *testing.T) {
	f := newFixture(t)
	c, err := New("FRA", &Vote{Entry: "DEU-N-1", Position: "endorse"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(f.signer); err != nil {
		t.Fatal(err)
	}
	mutations := map[string]func(c *Command){
		"type":    func(c *Command) { c.Type = TypeRenew },
		"version": func(c *Command) { c.Version = 2 },
		"origin":  func(c *Command) { c.Origin = "DEU" },
		"payload": func(c *Command) { c.Payload = bytes.Replace(c.Payload, []byte("endorse"), []byte("object!"), 1) },
	}
	for name, mut := range mutations {
		cc := *c
		cc.Payload = bytes.Clone(c.Payload)
		mut(&cc)
		if _, err := cc.Verify(f.keys); !errors.Is(err, ErrSignature) {
			t.Errorf("%s changed after signing: verify = %v", name, err)
		}
	}
	other := newFixture(t)
	if _, err := c.Verify(other.keys); !errors.Is(err, ErrSignature) {
		t.Errorf("another state's key verified FRA's command: %v", err)
	}
	if _, err := c.Verify(nil); !errors.Is(err, ErrSignature) {
		t.Errorf("a state off the roster verified: %v", err)
	}
}

// TestSovereignty: no field marked NATIONAL can be proposed, in any payload that carries
// fields, and the error names the field.
func TestSovereignty(t *testing.T) {
	f := newFixture(t)
	national := f.sealed(t, "watchlist/FRA-N-2", "fields.rationale", "NATIONAL", "secret")
	national.Sealed.Marking = "NATIONAL"
	cases := map[string]struct {
		p     Payload
		field string
	}{
		"nomination rationale": {&Nominate{ID: "FRA-N-2", Kind: "denied-party", Fields: map[string]Field{
			"party": {Marking: "PUBLIC", Plain: json.RawMessage(`{}`)}, "basis": {Marking: "PUBLIC", Plain: json.RawMessage(`{}`)}, "rationale": national}}, "fields.rationale"},
		"vote reason":        {&Vote{Entry: "X", Position: "object", Reason: &national}, "reason"},
		"appeal grounds":     {&Appeal{Entry: "X", Grounds: national}, "grounds"},
		"indicator evidence": {&Indicator{ID: "I", Kind: "route", Subject: Field{Marking: "PUBLIC", Plain: json.RawMessage(`"IRN"`)}, Severity: 2, Evidence: national, ValidUntil: 1}, "evidence"},
	}
	for name, tc := range cases {
		_, err := New("FRA", tc.p)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.field+": is marked NATIONAL") {
			t.Errorf("%s: error %v, want ErrInvalid naming %s", name, err, tc.field)
		}
	}
}

func TestShapeRules(t *testing.T) {
	f := newFixture(t)
	pub := Field{Marking: "PUBLIC", Plain: json.RawMessage(`"x"`)}
	cases := []struct {
		p     Payload
		field string
	}{
		{&Nominate{ID: "bad id", Kind: "denied-party"}, "id"},
		{&Nominate{ID: "N", Kind: "villain"}, "kind"},
		{&Nominate{ID: "N", Kind: "denied-party", Fields: map[string]Field{"party": pub}}, "fields.basis"},
		{&Nominate{ID: "N", Kind: "denied-party", Fields: map[string]Field{"party": pub, "basis": pub, "colour": pub}}, "fields.colour"},
		{&Nominate{ID: "N", Kind: "denied-party", Fields: map[string]Field{"party": {Marking: "REL TO DEU,FRA", Plain: json.RawMessage(`"x"`)}, "basis": pub}}, "fields.party"},
		{&Nominate{ID: "N", Kind: "denied-party", Fields: map[string]Field{"party": {Marking: "REL TO FRA,DEU", Plain: json.RawMessage(`"x"`)}, "basis": pub}}, "fields.party.marking"},
		{&Vote{Entry: "N", Position: "maybe"}, "position"},
		{&Vote{Entry: "N", Position: "endorse", Blocking: true}, "blocking"},
		{&Vote{Entry: "N", Position: "object"}, "reason"},
		{&AppealVote{Entry: "N", Decision: "pardon"}, "decision"},
		{&Transition{Subject: "entry/N", To: "closed"}, "subject"},
		{&Transition{Subject: "watchlist/N", To: "listed"}, "to"},
		{&Indicator{ID: "I", Kind: "weather", Severity: 3, ValidUntil: 1, Subject: pub, Evidence: pub}, "kind"},
		{&Indicator{ID: "I", Kind: "route", Severity: 6, ValidUntil: 1, Subject: pub, Evidence: pub}, "severity"},
		{&Indicator{ID: "I", Kind: "route", Severity: 3, Subject: pub, Evidence: pub}, "valid_until"},
		{&EpochKey{Epoch: 1, Recipient: "age1notarecipient"}, "recipient"},
		{&Membership{ID: "M", Action: "crown", State: "NLD"}, "action"},
		{&Membership{ID: "M", Action: "admit"}, "member"},
		{&Membership{ID: "M", Action: "remove", State: "XXA"}, "state"},
		{&MemberVote{Proposal: "M", Position: "abstain"}, "position"},
		{&MemberVote{Proposal: "M", Position: "endorse", Blocking: true}, "blocking"},
	}
	r, _ := age.GenerateX25519Identity()
	for field, mut := range map[string]func(c *MemberCard){
		"member.code":          func(c *MemberCard) { c.Code = "XXA" },
		"member.role":          func(c *MemberCard) { c.Role = "king" },
		"member.signing_keys":  func(c *MemberCard) { c.SigningKeys = []byte(`{}`) },
		"member.age_recipient": func(c *MemberCard) { c.AgeRecipient = "age1x" },
		"member.tls_pin":       func(c *MemberCard) { c.TLSPin = "md5:x" },
		"member.raft_addr":     func(c *MemberCard) { c.RaftAddr = "nowhere" },
		"member.api_url":       func(c *MemberCard) { c.APIURL = "http://plain" },
	} {
		c := f.card(r)
		mut(c)
		cases = append(cases, struct {
			p     Payload
			field string
		}{&Membership{ID: "M", Action: "admit", Member: c}, field})
	}
	// A sealed field whose own marking differs from the field's.
	moved := f.sealed(t, "watchlist/N", "fields.party", "REL TO DEU,FRA", "x")
	moved.Marking = "REL TO FEDERATION"
	cases = append(cases, struct {
		p     Payload
		field string
	}{&Nominate{ID: "N", Kind: "denied-party", Fields: map[string]Field{"party": moved, "basis": pub}}, "fields.party.sealed.marking"})
	for _, tc := range cases {
		_, err := New("FRA", tc.p)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), ": "+tc.field+": ") {
			t.Errorf("%T %+v: error %v, want ErrInvalid naming %s", tc.p, tc.p, err, tc.field)
		}
	}
}

// TestDecodeIsStrict: one form per command.
func TestDecodeIsStrict(t *testing.T) {
	base := func() *Command {
		c, err := New("FRA", &Renew{Entry: "N"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cases := map[string]func(c *Command){
		"unknown member":  func(c *Command) { c.Payload = []byte(`{"entry":"N","extra":1}`) },
		"not canonical":   func(c *Command) { c.Payload = []byte(`{ "entry": "N" }`) },
		"unknown type":    func(c *Command) { c.Type = 99 },
		"unknown version": func(c *Command) { c.Version = 9 },
		"bad origin":      func(c *Command) { c.Origin = "XXY" },
		"not JSON":        func(c *Command) { c.Payload = []byte(`entry=N`) },
	}
	for name, mut := range cases {
		c := base()
		mut(c)
		if _, err := Decode(c); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestUnmarshalRefusesEveryTruncation(t *testing.T) {
	f := newFixture(t)
	c, _ := New("FRA", &Renew{Entry: "FRA-N-1"})
	_ = c.Sign(f.signer)
	raw, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(raw); n++ {
		if _, err := Unmarshal(raw[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("cut to %d of %d bytes: %v", n, len(raw), err)
		}
	}
	if _, err := Unmarshal(append(bytes.Clone(raw), 'x')); !errors.Is(err, ErrMalformed) {
		t.Fatal("trailing byte accepted")
	}
	if _, err := UnmarshalEntry(make([]byte, MaxEntry+1)); !errors.Is(err, ErrMalformed) {
		t.Fatal("oversized entry accepted")
	}
}

func FuzzUnmarshalDecode(f *testing.F) {
	fx := newFixture(f)
	for _, p := range fx.payloads(f) {
		c, err := New("FRA", p)
		if err != nil {
			f.Fatal(err)
		}
		_ = c.Sign(fx.signer)
		raw, _ := c.Marshal()
		f.Add(MarshalEntry(Entry{Stamp: 1, Command: raw}))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := UnmarshalEntry(data)
		if err != nil {
			return
		}
		c, err := Unmarshal(e.Command)
		if err != nil {
			return
		}
		// Whatever decodes re-marshals to the same bytes.
		again, err := c.Marshal()
		if err != nil || !bytes.Equal(again, e.Command) {
			t.Fatalf("re-marshal differs: %v", err)
		}
		_, _ = c.Verify(fx.keys)
		if p, err := Decode(c); err == nil {
			if err := p.Validate(); err != nil {
				t.Fatalf("decoded payload fails validation: %v", err)
			}
		}
	})
}
