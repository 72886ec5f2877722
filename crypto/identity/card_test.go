package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/entente/entente/crypto/jws"
)

func TestCardRoundTrip(t *testing.T) {
	_, id := create(t)
	card := id.Card("node.fra.example:9443")
	if card.Version != 1 || card.State != "FRA" || card.APIAddr != "node.fra.example:9443" || card.TLSPin != id.TLSPin {
		t.Errorf("card = %+v", card)
	}
	data, err := json.Marshal(card)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseCard(data)
	if err != nil {
		t.Fatalf("ParseCard: %v", err)
	}
	if parsed.Version != card.Version || parsed.State != card.State || parsed.AgeRecipient != card.AgeRecipient ||
		parsed.TLSPin != card.TLSPin || parsed.APIAddr != card.APIAddr || !bytes.Equal(parsed.SigningJWK, card.SigningJWK) {
		t.Errorf("round trip:\n got %+v\nwant %+v", parsed, card)
	}
	r, err := parsed.Recipient()
	if err != nil || r.String() != id.Age.Recipient().String() {
		t.Errorf("Recipient() = %v, %v", r, err)
	}
	pub, err := parsed.SigningKey()
	if err != nil || !pub.Equal(id.Signer.Public()) {
		t.Errorf("SigningKey() = %x, %v", pub, err)
	}
	var jwk map[string]any
	if err := json.Unmarshal(parsed.SigningJWK, &jwk); err != nil {
		t.Fatal(err)
	}
	if jwk["kid"] != id.Signer.KID() {
		t.Errorf("signing_jwk kid = %v, want %s", jwk["kid"], id.Signer.KID())
	}
	if _, ok := jwk["d"]; ok {
		t.Error("card carries the private key")
	}

	// Indented input is accepted and its JWK returned compact.
	indented, _ := json.MarshalIndent(card, "", "    ")
	again, err := ParseCard(indented)
	if err != nil || !bytes.Equal(again.SigningJWK, card.SigningJWK) {
		t.Errorf("indented card: %v, jwk %s", err, again.SigningJWK)
	}

	// An IPv6 API address round-trips too.
	v6 := id.Card("[2001:db8::7]:8443")
	data, _ = json.Marshal(v6)
	if _, err := ParseCard(data); err != nil {
		t.Errorf("IPv6 card: %v", err)
	}
}

// validCard returns the JSON members of a valid card, to be altered by a test case.
func validCard(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	data, err := json.Marshal(testCard(t))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

var cachedCard *Card

func testCard(t *testing.T) Card {
	t.Helper()
	if cachedCard == nil {
		_, id := create(t)
		c := id.Card("node.fra.example:8443")
		cachedCard = &c
	}
	return *cachedCard
}

func encode(t *testing.T, m map[string]json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func raw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestParseCardRejects(t *testing.T) {
	base := testCard(t)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privJWK, err := jws.MarshalPrivateJWK(priv)
	if err != nil {
		t.Fatal(err)
	}
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	otherJWK, _ := jws.MarshalPublicJWK(otherPub)
	ageSecret, _ := age.GenerateX25519Identity()

	var jwk map[string]any
	if err := json.Unmarshal(base.SigningJWK, &jwk); err != nil {
		t.Fatal(err)
	}
	jwkWith := func(change func(map[string]any)) json.RawMessage {
		c := map[string]any{}
		for k, v := range jwk {
			c[k] = v
		}
		change(c)
		return raw(c)
	}

	tests := []struct {
		name    string
		field   string
		value   json.RawMessage // nil deletes the field
		wantErr string
	}{
		{"unknown field", "extra", raw("x"), `unknown field "extra"`},
		{"field in other case", "State", raw("FRA"), `unknown field "State"`},
		{"missing state", "state", nil, "state: missing"},
		{"missing signing_jwk", "signing_jwk", nil, "signing_jwk: missing"},
		{"version 2", "version", raw(2), "version: 2 is not supported"},
		{"version 0", "version", raw(0), "version"},
		{"version as string", "version", raw("1"), "version"},
		{"version fractional", "version", raw(1.5), "version"},
		{"bad state", "state", raw("FR1"), `state: "FR1" is not an ISO 3166-1 alpha-3 state code`},
		{"lower-case state", "state", raw("fra"), "state:"},
		{"null state", "state", raw(nil), "state:"},
		{"state as number", "state", raw(250), "state"},
		{"bad recipient", "age_recipient", raw("age1notarecipient"), "age_recipient:"},
		{"upper-case recipient", "age_recipient", raw(strings.ToUpper(base.AgeRecipient)), "age_recipient:"},
		{"recipient is a secret key", "age_recipient", raw(ageSecret.String()), "age_recipient: holds an age secret key"},
		{"long recipient", "age_recipient", raw(strings.Repeat("a", 5000)), "age_recipient: too long"},
		{"empty recipient", "age_recipient", raw(""), "age_recipient:"},
		{"private JWK", "signing_jwk", privJWK, "private key material"},
		{"d added to public JWK", "signing_jwk", jwkWith(func(m map[string]any) { m["d"] = "AAAA" }), "private key material"},
		{"wrong kty", "signing_jwk", jwkWith(func(m map[string]any) { m["kty"] = "EC" }), "signing_jwk:"},
		{"wrong crv", "signing_jwk", jwkWith(func(m map[string]any) { m["crv"] = "X25519" }), "signing_jwk:"},
		{"kid of another key", "signing_jwk", jwkWith(func(m map[string]any) { m["kid"] = jws.Thumbprint(otherPub) }), "thumbprint"},
		{"missing kid", "signing_jwk", jwkWith(func(m map[string]any) { delete(m, "kid") }), "kid"},
		{"short x", "signing_jwk", jwkWith(func(m map[string]any) { m["x"] = "AAAA" }), "signing_jwk:"},
		{"alg HS256", "signing_jwk", jwkWith(func(m map[string]any) { m["alg"] = "HS256" }), "signing_jwk:"},
		{"x5u member", "signing_jwk", jwkWith(func(m map[string]any) { m["x5u"] = "https://evil.example" }), "signing_jwk:"},
		{"jwk as string", "signing_jwk", raw(string(otherJWK)), "signing_jwk:"},
		{"jwk null", "signing_jwk", raw(nil), "signing_jwk: missing"},
		{"pin without prefix", "tls_pin", raw(strings.TrimPrefix(base.TLSPin, "sha256:")), "tls_pin:"},
		{"pin sha1", "tls_pin", raw("sha1:" + strings.TrimPrefix(base.TLSPin, "sha256:")), "tls_pin:"},
		{"pin short", "tls_pin", raw("sha256:AAAA"), "tls_pin:"},
		{"pin url base64", "tls_pin", raw("sha256:" + strings.NewReplacer("+", "-", "/", "_").Replace(strings.Repeat("+/", 21)+"AA=")), "tls_pin:"},
		{"pin unpadded", "tls_pin", raw(strings.TrimRight(base.TLSPin, "=")), "tls_pin:"},
		{"no port", "api_addr", raw("node.fra.example"), "api_addr:"},
		{"empty host", "api_addr", raw(":8443"), "api_addr:"},
		{"unspecified host", "api_addr", raw("0.0.0.0:8443"), "api_addr:"},
		{"port zero", "api_addr", raw("node.fra.example:0"), "api_addr:"},
		{"url not addr", "api_addr", raw("https://node.fra.example:8443/"), "api_addr:"},
		{"host with space", "api_addr", raw("node fra:8443"), "api_addr:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validCard(t)
			if tt.value == nil {
				delete(m, tt.field)
			} else {
				m[tt.field] = tt.value
			}
			c, err := ParseCard(encode(t, m))
			if err == nil {
				t.Fatalf("ParseCard accepted %+v", c)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "card: ") {
				t.Errorf("error %q does not start with \"card: \"", err)
			}
			if strings.Contains(err.Error(), ageSecret.String()) {
				t.Error("error repeats an age secret key")
			}
		})
	}
}

func TestParseCardRejectsMalformedDocuments(t *testing.T) {
	good, err := json.Marshal(testCard(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCard(good); err != nil {
		t.Fatalf("valid card refused: %v", err)
	}
	body := string(good[1 : len(good)-1])
	tests := []struct {
		name, doc, wantErr string
	}{
		{"empty", "", "not valid JSON"},
		{"array", "[" + string(good) + "]", "not a JSON object"},
		{"string", `"card"`, "not a JSON object"},
		{"duplicate field", `{"state":"DEU",` + body + `}`, `field "state" appears twice`},
		{"trailing object", string(good) + `{}`, "data after the card object"},
		{"trailing garbage", string(good) + `x`, "data after"},
		{"truncated", string(good[:len(good)-5]), "not valid JSON"},
		{"oversized", `{"state":"FRA","pad":"` + strings.Repeat(" ", MaxCardSize) + `"}`, "at most 65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCard([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseCard: %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
	// Whitespace around the object is fine.
	if _, err := ParseCard([]byte("\n  " + string(good) + "\n\n")); err != nil {
		t.Errorf("card with surrounding whitespace: %v", err)
	}
}

func TestCardFromBrokenIdentity(t *testing.T) {
	c := (&Identity{State: "FRA"}).Card("node.example:8443")
	if c.SigningJWK != nil || c.AgeRecipient != "" {
		t.Errorf("card from an empty identity carries keys: %+v", c)
	}
	data, _ := json.Marshal(c)
	if _, err := ParseCard(data); err == nil {
		t.Error("card without keys parsed")
	}
	if _, err := c.SigningKey(); err == nil {
		t.Error("SigningKey of a card without a key succeeded")
	}
	if _, err := c.Recipient(); err == nil {
		t.Error("Recipient of a card without a recipient succeeded")
	}
}

// TestParseCardFixture pins the card format: a card written by an earlier build must keep
// parsing, since cards are exchanged between states running different versions.
func TestParseCardFixture(t *testing.T) {
	c, err := ParseCard(mustRead(t, "testdata/member.card.json"))
	if err != nil {
		t.Fatalf("fixture card: %v", err)
	}
	if c.Version != 1 || c.State != "FRA" || c.APIAddr != "node.fra.example:8443" ||
		c.AgeRecipient != "age1f9752jrhlwkw5cssmez2ptgp0hc8j53ahaytz8vtvqz4ps2es9tq078cty" ||
		c.TLSPin != "sha256:1Fzw3y67IXWJIXFDOlb8g0HUdcMc+R8TsydFxCTet9g=" {
		t.Errorf("fixture card parsed as %+v", c)
	}
	pub, err := c.SigningKey()
	if err != nil {
		t.Fatal(err)
	}
	if kid := jws.Thumbprint(pub); kid != "iow7L8nFI6UAuMucidLUbXZPVScFkHuWGaCeGWTzKHg" {
		t.Errorf("fixture signing key thumbprint %s", kid)
	}
	want := `{"kty":"OKP","crv":"Ed25519","x":"uwlf9i8WUvNaA_EvrBW8-7234V7qPzfj9nDv7c7O4V0","kid":"iow7L8nFI6UAuMucidLUbXZPVScFkHuWGaCeGWTzKHg","use":"sig","alg":"EdDSA"}`
	if string(c.SigningJWK) != want {
		t.Errorf("SigningJWK not compacted: %s", c.SigningJWK)
	}
}

func TestCardClusterAddresses(t *testing.T) {
	id, err := Create(t.TempDir(), "FRA", "127.0.0.2:8443")
	if err != nil {
		t.Fatal(err)
	}
	c := id.Card("127.0.0.2:8443")
	c.RaftAddr, c.GossipAddr = "127.0.0.2:7443", "127.0.0.2:7946"
	b, _ := json.Marshal(c)
	got, err := ParseCard(b)
	if err != nil || got.RaftAddr != c.RaftAddr || got.GossipAddr != c.GossipAddr {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	c.RaftAddr = "0.0.0.0:7443"
	b, _ = json.Marshal(c)
	if _, err := ParseCard(b); err == nil || !strings.Contains(err.Error(), "raft_addr") {
		t.Fatalf("an unreachable raft_addr was accepted: %v", err)
	}
}
