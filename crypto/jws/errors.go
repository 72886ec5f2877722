package jws

import "errors"

// Sentinel errors. VerifyDetached, ParseToken and the key parsers wrap them with detail,
// so callers test with errors.Is and log the message; no message ever contains key
// material.
var (
	// ErrMalformed means the input is not a well-formed compact JWS, JWT or JWK of the
	// accepted shape: wrong number of segments (including a 5-segment JWE), JSON
	// serialization, bad or padded base64url, invalid JSON, missing required members,
	// or more bytes than the limits allow.
	ErrMalformed = errors.New("jws: malformed input")
	// ErrAlgorithm means the protected header names an algorithm other than exactly
	// "EdDSA" ("none", HMAC, ECDSA, RSA, case variants, or no alg at all).
	ErrAlgorithm = errors.New("jws: algorithm not accepted (only EdDSA)")
	// ErrHeader means the protected header carries a member that is not accepted
	// (jwk, jku, x5u, x5c, x5t, crit, b64, enc, zip or any unknown one), repeats a
	// member, lacks a kid, or has a typ that does not fit the use.
	ErrHeader = errors.New("jws: protected header not accepted")
	// ErrUnknownKey means the header's kid is not in the verifier's KeySet. It is always
	// returned together with ErrHeader (errors.Is matches both); a client that sees it
	// may refetch the node's JWKS once, since the node may have rotated its key.
	ErrUnknownKey = errors.New("jws: kid not in the key set")
	// ErrSignature means the signature does not verify over the given bytes with the
	// key named by kid: the body, header or signature was altered, or it was signed by
	// another key.
	ErrSignature = errors.New("jws: signature does not verify")
	// ErrAudience means the token was issued for another audience, or its aud is not a
	// single string.
	ErrAudience = errors.New("jws: token audience does not match")
	// ErrExpired means the token's exp is not after the verification time.
	ErrExpired = errors.New("jws: token expired")
	// ErrNotYetValid means the token's nbf is after the verification time.
	ErrNotYetValid = errors.New("jws: token not yet valid")
)
