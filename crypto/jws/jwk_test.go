package jws_test

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/entente/entente/crypto/jws"
)

func TestThumbprintRFC8037Vector(t *testing.T) {
	// RFC 8037 appendix A.2 and A.3: the Ed25519 example key and its RFC 7638 thumbprint.
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jws.Thumbprint(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Fatalf("Thumbprint = %s, want %s", got, want)
	}
}

func TestThumbprintMatchesGoJose(t *testing.T) {
	for i := range 8 {
		pub := fixedKey(byte(i)).Public().(ed25519.PublicKey)
		tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := jws.Thumbprint(pub), enc(tp); got != want {
			t.Fatalf("key %d: Thumbprint = %s, go-jose says %s", i, got, want)
		}
	}
	if got := jws.Thumbprint(make([]byte, 31)); got != "" {
		t.Fatalf("Thumbprint of a 31-byte slice = %q, want empty", got)
	}
}

func TestKeySetAddLookupKIDs(t *testing.T) {
	a, b := fixedKey(1).Public().(ed25519.PublicKey), fixedKey(2).Public().(ed25519.PublicKey)
	ks := jws.NewKeySet()
	ka := ks.Add(a)
	if ka != jws.Thumbprint(a) {
		t.Fatalf("Add returned %s, want the thumbprint %s", ka, jws.Thumbprint(a))
	}
	if again := ks.Add(bytes.Clone(a)); again != ka || len(ks.KIDs()) != 1 {
		t.Fatalf("second Add: kid %s, %d keys; want %s and 1 key", again, len(ks.KIDs()), ka)
	}
	kb := ks.Add(b)
	want := []string{ka, kb}
	slices.Sort(want)
	if got := ks.KIDs(); !slices.Equal(got, want) {
		t.Fatalf("KIDs = %v, want %v", got, want)
	}
	if got, ok := ks.Lookup(kb); !ok || !got.Equal(b) {
		t.Fatalf("Lookup(%s) = %x, %v", kb, got, ok)
	}
	if _, ok := ks.Lookup("nope"); ok {
		t.Fatal("Lookup of an unknown kid succeeded")
	}
	if kid := ks.Add(make([]byte, 5)); kid != "" || len(ks.KIDs()) != 2 {
		t.Fatalf("Add of a 5-byte key returned %q and left %d keys", kid, len(ks.KIDs()))
	}
	// The set keeps its own copy.
	mutable := bytes.Clone(a)
	ks2 := jws.NewKeySet()
	kid := ks2.Add(mutable)
	mutable[0] ^= 0xff
	if got, _ := ks2.Lookup(kid); !got.Equal(a) {
		t.Fatal("KeySet aliases the caller's slice")
	}
}

func TestKeySetConcurrentUse(t *testing.T) {
	ks := jws.NewKeySet()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			pub := fixedKey(byte(i)).Public().(ed25519.PublicKey)
			kid := ks.Add(pub)
			for range 100 {
				if _, ok := ks.Lookup(kid); !ok {
					t.Error("key vanished")
					return
				}
				_ = ks.KIDs()
			}
			if _, err := ks.MarshalJSON(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(ks.KIDs()); n != 8 {
		t.Fatalf("%d keys, want 8", n)
	}
}

func TestKeySetMarshalDeterministicAndGoJoseReadsIt(t *testing.T) {
	var pubs []ed25519.PublicKey
	for i := range 5 {
		pubs = append(pubs, fixedKey(byte(10+i)).Public().(ed25519.PublicKey))
	}
	reversed := slices.Clone(pubs)
	slices.Reverse(reversed)
	ks1, ks2 := keySetOf(pubs...), keySetOf(reversed...)
	j1, err := json.Marshal(ks1)
	if err != nil {
		t.Fatal(err)
	}
	j2, _ := json.Marshal(ks2)
	if !bytes.Equal(j1, j2) {
		t.Fatalf("JWKS depends on insertion order:\n%s\n%s", j1, j2)
	}
	first := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":%q,"use":"sig","alg":"EdDSA"},`,
		enc(pubOfKID(t, ks1, ks1.KIDs()[0])), ks1.KIDs()[0])
	if !strings.HasPrefix(string(j1), first) {
		t.Fatalf("JWKS = %s\nwant prefix %s", j1, first)
	}

	var set jose.JSONWebKeySet
	if err := json.Unmarshal(j1, &set); err != nil {
		t.Fatalf("go-jose cannot read the JWKS: %v", err)
	}
	if len(set.Keys) != len(pubs) {
		t.Fatalf("go-jose read %d keys, want %d", len(set.Keys), len(pubs))
	}
	for _, k := range set.Keys {
		pub, ok := k.Key.(ed25519.PublicKey)
		if !ok || !k.IsPublic() {
			t.Fatalf("go-jose read %T, want a public Ed25519 key", k.Key)
		}
		if k.KeyID != jws.Thumbprint(pub) || k.Algorithm != "EdDSA" || k.Use != "sig" {
			t.Fatalf("go-jose read kid %s alg %s use %s", k.KeyID, k.Algorithm, k.Use)
		}
	}

	back, err := jws.ParseKeySet(j1)
	if err != nil {
		t.Fatalf("ParseKeySet of own output: %v", err)
	}
	if !slices.Equal(back.KIDs(), ks1.KIDs()) {
		t.Fatalf("round trip KIDs %v, want %v", back.KIDs(), ks1.KIDs())
	}
}

func pubOfKID(t *testing.T, ks *jws.KeySet, kid string) ed25519.PublicKey {
	t.Helper()
	p, ok := ks.Lookup(kid)
	if !ok {
		t.Fatalf("kid %s missing", kid)
	}
	return p
}

func TestParseKeySetRejects(t *testing.T) {
	pub := fixedKey(3).Public().(ed25519.PublicKey)
	x, kid := enc(pub), jws.Thumbprint(pub)
	key := func(extra string) string {
		return fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q,"kid":%q%s}`, x, kid, extra)
	}
	set := func(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }
	priv, _ := jws.MarshalPrivateJWK(fixedKey(3))
	many := make([]string, jws.MaxKeySetKeys+1)
	for i := range many {
		p := fixedKey(byte(i)).Public().(ed25519.PublicKey)
		many[i] = fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q,"kid":%q}`, enc(p), jws.Thumbprint(p))
	}
	cases := map[string]string{
		"private d":        set(string(priv)),
		"kty EC":           set(strings.Replace(key(""), `"OKP"`, `"EC"`, 1)),
		"crv X25519":       set(strings.Replace(key(""), `"Ed25519"`, `"X25519"`, 1)),
		"alg ES256":        set(key(`,"alg":"ES256"`)),
		"alg eddsa":        set(key(`,"alg":"eddsa"`)),
		"use enc":          set(key(`,"use":"enc"`)),
		"x5c":              set(key(`,"x5c":["MIIB"]`)),
		"key_ops":          set(key(`,"key_ops":["verify"]`)),
		"kid mismatch":     set(fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q,"kid":%q}`, x, jws.Thumbprint(fixedKey(4).Public().(ed25519.PublicKey)))),
		"kid missing":      set(fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q}`, x)),
		"x short":          set(fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q,"kid":%q}`, enc(pub[:31]), kid)),
		"x padded":         set(fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q,"kid":%q}`, x+"=", kid)),
		"x with newline":   set(fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q,"kid":%q}`, x[:20]+"\n"+x[20:], kid)),
		"x null":           set(fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":null,"kid":%q}`, kid)),
		"duplicate member": set(key(`,"kty":"OKP"`)),
		"duplicate kid":    set(key(""), key("")),
		"no keys":          set(),
		"too many keys":    set(many...),
		"too large":        `{"keys":[` + key("") + `]}` + strings.Repeat(" ", jws.MaxKeySetBytes),
		"not json":         `{"keys":[`,
		"array":            `[` + key("") + `]`,
		"extra top member": `{"keys":[` + key("") + `],"x":1}`,
		"keys not array":   `{"keys":` + key("") + `}`,
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			ks, err := jws.ParseKeySet([]byte(doc))
			if err == nil {
				t.Fatalf("accepted, %d keys", len(ks.KIDs()))
			}
			if !isAny(err, jws.ErrMalformed, jws.ErrAlgorithm) {
				t.Fatalf("error %q is not ErrMalformed or ErrAlgorithm", err)
			}
		})
	}
	// The well-formed base document is accepted, so each rejection above is due to its change.
	if _, err := jws.ParseKeySet([]byte(set(key(`,"use":"sig","alg":"EdDSA"`)))); err != nil {
		t.Fatalf("valid key set refused: %v", err)
	}
	if strings.Contains(fmt.Sprint(jws.ParseKeySet([]byte(set(string(priv))))), enc(fixedKey(3).Seed())) {
		t.Fatal("error message contains the private key")
	}
}

func TestPrivateJWKRoundTripAndGoJose(t *testing.T) {
	priv := fixedKey(7)
	data, err := jws.MarshalPrivateJWK(priv)
	if err != nil {
		t.Fatal(err)
	}
	back, err := jws.ParsePrivateJWK(data)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(priv) {
		t.Fatal("private JWK round trip changed the key")
	}
	var k jose.JSONWebKey
	if err := json.Unmarshal(data, &k); err != nil {
		t.Fatalf("go-jose cannot read the private JWK: %v", err)
	}
	if gp, ok := k.Key.(ed25519.PrivateKey); !ok || !gp.Equal(priv) || k.KeyID != jws.Thumbprint(priv.Public().(ed25519.PublicKey)) {
		t.Fatalf("go-jose read %T kid %s", k.Key, k.KeyID)
	}

	// A private JWK is never accepted where a public one is expected.
	if _, err := jws.ParsePublicJWK(data); err == nil {
		t.Fatal("ParsePublicJWK accepted private material")
	}

	var m map[string]any
	_ = json.Unmarshal(data, &m)
	other := enc(fixedKey(8).Public().(ed25519.PublicKey))
	bad := map[string]func(map[string]any){
		"x not matching d": func(m map[string]any) { m["x"] = other; delete(m, "kid") },
		"kid not matching": func(m map[string]any) { m["kid"] = jws.Thumbprint(fixedKey(8).Public().(ed25519.PublicKey)) },
		"d short":          func(m map[string]any) { m["d"] = enc(make([]byte, 31)) },
		"d missing":        func(m map[string]any) { delete(m, "d") },
		"kty RSA":          func(m map[string]any) { m["kty"] = "RSA" },
		"extra member":     func(m map[string]any) { m["x5u"] = "https://evil.example" },
	}
	for name, mutate := range bad {
		t.Run(name, func(t *testing.T) {
			c := maps.Clone(m)
			mutate(c)
			b, _ := json.Marshal(c)
			if _, err := jws.ParsePrivateJWK(b); err == nil {
				t.Fatal("accepted")
			}
		})
	}

	inconsistent := slices.Clone(priv)
	copy(inconsistent[32:], fixedKey(8)[32:])
	if _, err := jws.MarshalPrivateJWK(inconsistent); err == nil {
		t.Fatal("MarshalPrivateJWK accepted a key whose public half does not match its seed")
	}
}

func TestPublicJWK(t *testing.T) {
	pub := fixedKey(9).Public().(ed25519.PublicKey)
	data, err := jws.MarshalPublicJWK(pub)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q,"kid":%q,"use":"sig","alg":"EdDSA"}`, enc(pub), jws.Thumbprint(pub))
	if string(data) != want {
		t.Fatalf("MarshalPublicJWK = %s, want %s", data, want)
	}
	back, err := jws.ParsePublicJWK(data)
	if err != nil || !back.Equal(pub) {
		t.Fatalf("ParsePublicJWK = %x, %v", back, err)
	}
	if _, err := jws.MarshalPublicJWK(pub[:16]); err == nil {
		t.Fatal("MarshalPublicJWK accepted a 16-byte key")
	}
}
