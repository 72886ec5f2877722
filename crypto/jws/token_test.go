package jws_test

import (
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/entente/entente/crypto/jws"
)

const (
	testAudience = "https://fra.entente.example/api"
	testNow      = 1_700_000_000
)

func validClaims(now int64) jws.Claims {
	return jws.Claims{
		ID: "tok-1", Issuer: "FRA", Subject: "customs-integration", Audience: testAudience,
		Role: "integrator", IssuedAt: now - 10, NotBefore: now - 10, Expiry: now + 3600,
	}
}

func TestTokenRoundTrip(t *testing.T) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public())
	c := validClaims(testNow)
	raw, err := s.IssueToken(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := jws.ParseToken(raw, ks, testAudience, time.Unix(testNow, 0))
	if err != nil {
		t.Fatalf("ParseToken: %v", err)
	}
	if got != c {
		t.Fatalf("claims %+v, want %+v", got, c)
	}
	hdr, _, _ := strings.Cut(raw, ".")
	if want := enc([]byte(`{"alg":"EdDSA","kid":"` + s.KID() + `","typ":"JWT"}`)); hdr != want {
		t.Fatalf("header %s, want %s", hdr, want)
	}

	// Independent check with go-jose's jwt package.
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var std jwt.Claims
	var extra struct {
		Role string `json:"role"`
	}
	if err := tok.Claims(s.Public(), &std, &extra); err != nil {
		t.Fatalf("go-jose: %v", err)
	}
	if err := std.Validate(jwt.Expected{AnyAudience: jwt.Audience{testAudience}, ID: "tok-1", Time: time.Unix(testNow, 0)}); err != nil {
		t.Fatalf("go-jose validation: %v", err)
	}
	if extra.Role != "integrator" || std.Subject != "customs-integration" {
		t.Fatalf("go-jose read role %q sub %q", extra.Role, std.Subject)
	}
}

func TestTokenTimeAndAudience(t *testing.T) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public())
	c := validClaims(testNow)
	raw, _ := s.IssueToken(c)
	at := func(sec int64, nsec int64) time.Time { return time.Unix(sec, nsec) }

	_, err := jws.ParseToken(raw, ks, "https://deu.entente.example/api", at(testNow, 0))
	wantErr(t, err, jws.ErrAudience)
	_, err = jws.ParseToken(raw, ks, testAudience+"/", at(testNow, 0))
	wantErr(t, err, jws.ErrAudience)
	_, err = jws.ParseToken(raw, ks, "", at(testNow, 0))
	wantErr(t, err, jws.ErrAudience)

	_, err = jws.ParseToken(raw, ks, testAudience, at(c.Expiry, 0))
	wantErr(t, err, jws.ErrExpired)
	_, err = jws.ParseToken(raw, ks, testAudience, at(c.Expiry+3600, 0))
	wantErr(t, err, jws.ErrExpired)
	if _, err := jws.ParseToken(raw, ks, testAudience, at(c.Expiry-1, 999_999_999)); err != nil {
		t.Fatalf("just before exp: %v", err)
	}

	_, err = jws.ParseToken(raw, ks, testAudience, at(c.NotBefore-1, 999_999_999))
	wantErr(t, err, jws.ErrNotYetValid)
	if _, err := jws.ParseToken(raw, ks, testAudience, at(c.NotBefore, 0)); err != nil {
		t.Fatalf("at nbf: %v", err)
	}
}

// signClaims signs an arbitrary claims object with the real key and header, for claims
// jws.Signer refuses to issue.
func signClaims(t *testing.T, s *jws.Signer, claims string) string {
	t.Helper()
	return compact(`{"alg":"EdDSA","kid":"`+s.KID()+`","typ":"JWT"}`, []byte(claims), false, edSign(fixedKey(1)))
}

func TestParseTokenClaimRules(t *testing.T) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public())
	now := time.Unix(testNow, 0)
	base := map[string]any{"jti": "t", "aud": testAudience, "iat": testNow - 1, "exp": testNow + 60}
	with := func(k string, v any) string {
		m := map[string]any{}
		for kk, vv := range base {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	if _, err := jws.ParseToken(signClaims(t, s, with("x", nil)), ks, testAudience, now); err != nil {
		t.Fatalf("control refused: %v", err)
	}
	cases := map[string]struct {
		claims string
		want   error
	}{
		"aud array":       {with("aud", []string{testAudience}), jws.ErrAudience},
		"aud missing":     {with("aud", nil), jws.ErrMalformed},
		"jti missing":     {with("jti", nil), jws.ErrMalformed},
		"jti empty":       {with("jti", ""), jws.ErrMalformed},
		"iat missing":     {with("iat", nil), jws.ErrMalformed},
		"exp missing":     {with("exp", nil), jws.ErrMalformed},
		"exp string":      {with("exp", "9999999999"), jws.ErrMalformed},
		"exp fraction":    {with("exp", 1.5e9+0.5), jws.ErrMalformed},
		"iat null":        {strings.Replace(with("x", nil), `"iat":1699999999`, `"iat":null`, 1), jws.ErrMalformed},
		"duplicate aud":   {strings.Replace(with("x", nil), `{`, `{"aud":"https://evil.example",`, 1), jws.ErrMalformed},
		"not an object":   {`["aud"]`, jws.ErrMalformed},
		"nbf future":      {with("nbf", testNow+1), jws.ErrNotYetValid},
		"exp past":        {with("exp", testNow-1), jws.ErrExpired},
		"claims not json": {`{"jti":`, jws.ErrMalformed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := jws.ParseToken(signClaims(t, s, tc.claims), ks, testAudience, now)
			wantErr(t, err, tc.want)
		})
	}
}

func TestParseTokenAttacks(t *testing.T) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public())
	now := time.Unix(testNow, 0)
	claims, _ := json.Marshal(validClaims(testNow))
	kid := s.KID()
	hdr := func(alg, extra string) string {
		return `{"alg":"` + alg + `","kid":"` + kid + `","typ":"JWT"` + extra + `}`
	}
	real := edSign(fixedKey(1))
	attacker := fixedKey(99)
	attackerJWK, _ := jws.MarshalPublicJWK(attacker.Public().(ed25519.PublicKey))
	good, _ := s.IssueToken(validClaims(testNow))
	gh, rest, _ := strings.Cut(good, ".")
	gp, gs, _ := strings.Cut(rest, ".")

	cases := map[string]struct {
		raw  string
		want error
	}{
		"alg none":                {compact(hdr("none", ""), claims, false, noSign), jws.ErrAlgorithm},
		"alg none no kid":         {compact(`{"alg":"none"}`, claims, false, noSign), jws.ErrAlgorithm},
		"HS256 keyed with pubkey": {compact(hdr("HS256", ""), claims, false, hmacSign(s.Public())), jws.ErrAlgorithm},
		"HS256 keyed with JWK":    {compact(hdr("HS256", ""), claims, false, hmacSign(mustPublicJWK(t, s))), jws.ErrAlgorithm},
		"ES256":                   {es256Token(t, kid, claims), jws.ErrAlgorithm},
		"alg EDDSA":               {compact(hdr("EDDSA", ""), claims, false, real), jws.ErrAlgorithm},
		"embedded jwk":            {compact(hdr("EdDSA", `,"jwk":`+string(attackerJWK)), claims, false, edSign(attacker)), jws.ErrHeader},
		"embedded jwk real sig":   {compact(hdr("EdDSA", `,"jwk":`+string(attackerJWK)), claims, false, real), jws.ErrHeader},
		"jku":                     {compact(hdr("EdDSA", `,"jku":"https://evil.example/jwks"`), claims, false, real), jws.ErrHeader},
		"x5u":                     {compact(hdr("EdDSA", `,"x5u":"https://evil.example/c.pem"`), claims, false, real), jws.ErrHeader},
		"x5c":                     {compact(hdr("EdDSA", `,"x5c":["MIIB"]`), claims, false, real), jws.ErrHeader},
		"crit":                    {compact(hdr("EdDSA", `,"crit":["exp"]`), claims, false, real), jws.ErrHeader},
		"b64 false":               {compact(hdr("EdDSA", `,"b64":false`), claims, false, real), jws.ErrHeader},
		"no typ":                  {compact(`{"alg":"EdDSA","kid":"`+kid+`"}`, claims, false, real), jws.ErrHeader},
		"typ lower":               {compact(`{"alg":"EdDSA","kid":"`+kid+`","typ":"jwt"}`, claims, false, real), jws.ErrHeader},
		"duplicate typ":           {compact(hdr("EdDSA", `,"typ":"JWT"`), claims, false, real), jws.ErrHeader},
		"unknown kid":             {compact(`{"alg":"EdDSA","kid":"bm9wZQ","typ":"JWT"}`, claims, false, edSign(attacker)), jws.ErrUnknownKey},
		"attacker key, our kid":   {compact(hdr("EdDSA", ""), claims, false, edSign(attacker)), jws.ErrSignature},
		"payload swapped":         {gh + "." + enc([]byte(strings.Replace(string(claims), "integrator", "admin", 1))) + "." + gs, jws.ErrSignature},
		"JWE":                     {gh + ".ZW5j.aXY.Y3Q.dGFn", jws.ErrMalformed},
		"JSON serialization":      {`{"payload":"` + gp + `","protected":"` + gh + `","signature":"` + gs + `"}`, jws.ErrMalformed},
		"detached":                {gh + ".." + gs, jws.ErrMalformed},
		"padded payload":          {gh + "." + gp + "=." + gs, jws.ErrMalformed},
		"oversize":                {gh + "." + gp + strings.Repeat("A", jws.MaxTokenBytes) + "." + gs, jws.ErrMalformed},
		"empty":                   {"", jws.ErrMalformed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := jws.ParseToken(tc.raw, ks, testAudience, now)
			wantErr(t, err, tc.want)
		})
	}
}

// A response signature over a body that looks like claims must not pass as a token, and a
// token must not pass as a response signature over its claims: typ keeps them apart.
func TestTokenAndResponseSignatureDoNotMix(t *testing.T) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public())
	now := time.Unix(testNow, 0)
	body, _ := json.Marshal(validClaims(testNow))
	sig, _ := s.Detached(body)
	h, sigSeg, _ := strings.Cut(sig, "..")
	_, err := jws.ParseToken(h+"."+enc(body)+"."+sigSeg, ks, testAudience, now)
	wantErr(t, err, jws.ErrHeader)

	tok, _ := s.IssueToken(validClaims(testNow))
	th, rest, _ := strings.Cut(tok, ".")
	tp, ts, _ := strings.Cut(rest, ".")
	claims, _ := b64Decode(tp)
	_, err = jws.VerifyDetached(ks, claims, th+".."+ts)
	wantErr(t, err, jws.ErrHeader)
}

func TestIssueTokenRefusesUnusableClaims(t *testing.T) {
	s := jws.NewSigner(fixedKey(1))
	mut := map[string]func(*jws.Claims){
		"no jti":         func(c *jws.Claims) { c.ID = "" },
		"no aud":         func(c *jws.Claims) { c.Audience = "" },
		"no iat":         func(c *jws.Claims) { c.IssuedAt = 0 },
		"exp before iat": func(c *jws.Claims) { c.Expiry = c.IssuedAt },
		"exp before nbf": func(c *jws.Claims) { c.NotBefore = c.Expiry },
	}
	for name, m := range mut {
		t.Run(name, func(t *testing.T) {
			c := validClaims(testNow)
			m(&c)
			if raw, err := s.IssueToken(c); err == nil {
				t.Fatalf("issued %s", raw)
			}
		})
	}
	big := validClaims(testNow)
	big.Subject = strings.Repeat("s", jws.MaxTokenBytes)
	if _, err := s.IssueToken(big); err == nil {
		t.Fatal("issued a token larger than MaxTokenBytes")
	}
}

func mustPublicJWK(t *testing.T, s *jws.Signer) []byte {
	t.Helper()
	b, err := jws.MarshalPublicJWK(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// es256Token is a genuine ES256 JWT (by go-jose) naming our kid: well-formed in every
// way except its algorithm.
func es256Token(t *testing.T, kid string, claims []byte) string {
	t.Helper()
	return es256(t, kid, claims, false)
}
