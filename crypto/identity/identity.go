// Package identity creates, loads and rotates a node's keys: the age X25519 identity that
// opens fields released to this state, the Ed25519 key that signs everything the node
// says (published as a JWKS with its retired predecessors), and the ECDSA P-256 key and
// self-signed certificate the node presents on TLS. It also reads and writes the member
// card, the public half other states need to admit the node.
//
// Secrets are written 0600 under a 0700 directory, never overwritten by Create, replaced
// atomically by Rotate, and never logged or put in error messages. Load refuses a secret
// file that group or others may access, so a leaked permission is noticed at start-up.
package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/entente/entente/crypto/jws"
)

// ErrExists is returned (wrapped with the path) when Create finds an identity, or part of
// one, already in the data directory. Create never overwrites: replacing a node's keys
// would cut it off from everything sealed to it and from every peer that pinned it.
var ErrExists = errors.New("identity: an identity already exists in the data directory; refusing to overwrite it")

// Identity is a node's key material, as loaded from its data directory.
type Identity struct {
	State  string
	Age    *age.X25519Identity
	Signer *jws.Signer     // current signing key
	Keys   *jws.KeySet     // public signing keys: current and retired (the JWKS)
	TLS    tls.Certificate // self-signed, ECDSA P-256
	TLSPin string          // "sha256:" + base64 std encoding of SHA-256 of the cert's SubjectPublicKeyInfo
}

// Create generates a new identity for state in dataDir and writes its key files and its
// member card (for apiAddr, the host:port other states will dial). It refuses with
// ErrExists if any identity file is already there, and removes what it wrote if it fails
// part way, so it either creates a whole identity or leaves the directory as it found it.
func Create(dataDir, state, apiAddr string) (*Identity, error) {
	if err := CheckStateShape(state); err != nil {
		return nil, fmt.Errorf("identity: state: %w", err)
	}
	apiHost, err := checkAPIAddr(apiAddr)
	if err != nil {
		return nil, fmt.Errorf("identity: api address %w", err)
	}
	if dataDir == "" {
		return nil, errors.New("identity: no data directory given")
	}
	for _, name := range []string{ageKeyFile, signingFile} {
		path := filepath.Join(dataDir, name)
		if _, err := os.Lstat(path); err == nil {
			return nil, fmt.Errorf("%w: %s", ErrExists, path)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("identity: %w", err)
		}
	}
	keys := filepath.Join(dataDir, keysDir)
	if err := ensureDir(dataDir); err != nil {
		return nil, err
	}
	if err := ensureDir(keys); err != nil {
		return nil, err
	}

	ageID, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("identity: generate age identity: %w", err)
	}
	_, signingKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: generate signing key: %w", err)
	}
	certPEM, keyPEM, err := newTLS(state, apiHost, time.Now())
	if err != nil {
		return nil, err
	}
	id, err := assemble(ageID, signingKey, nil, certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	if id.State != state {
		return nil, fmt.Errorf("identity: internal error: certificate names %s, want %s", id.State, state)
	}

	signingJWK, err := jws.MarshalPrivateJWK(signingKey)
	if err != nil {
		return nil, fmt.Errorf("identity: encode signing key: %w", err)
	}
	jwks, err := id.Keys.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("identity: encode key set: %w", err)
	}
	card, err := marshalCard(id.Card(apiAddr))
	if err != nil {
		return nil, err
	}

	files := []struct {
		name string
		data []byte
		mode fs.FileMode
	}{
		{ageKeyFile, ageFile(ageID), secretMode},
		{signingFile, signingJWK, secretMode},
		{jwksFile, jwks, secretMode},
		{tlsKeyFile, keyPEM, secretMode},
		{tlsCertFile, certPEM, publicMode},
		{CardFile, card, publicMode},
	}
	var written []string
	for _, f := range files {
		path := filepath.Join(dataDir, f.name)
		if err := writeNew(path, f.data, f.mode); err != nil {
			for _, w := range written {
				_ = os.Remove(w)
			}
			return nil, err
		}
		written = append(written, path)
	}
	if err := syncDir(keys); err != nil {
		return nil, err
	}
	if err := syncDir(dataDir); err != nil {
		return nil, err
	}
	return id, nil
}

// ageFile renders the age identity in the format age-keygen writes, so the operator can
// use the age command-line tool on it in an emergency.
func ageFile(id *age.X25519Identity) []byte {
	return []byte("# Entente node age identity. Keep secret.\n# public key: " + id.Recipient().String() + "\n" + id.String() + "\n")
}

// Load reads the identity in dataDir. It refuses secret files that group or others may
// access (the error says which and how to fix it) and says to run entente init when a file
// is missing. It checks that the parts belong together: the signing key is in the key set
// and the TLS key matches its certificate.
func Load(dataDir string) (*Identity, error) {
	paths := map[string]string{}
	for _, name := range []string{ageKeyFile, signingFile, jwksFile, tlsKeyFile, tlsCertFile} {
		paths[name] = filepath.Join(dataDir, name)
	}
	contents := map[string][]byte{}
	for _, name := range []string{ageKeyFile, signingFile, jwksFile, tlsKeyFile, tlsCertFile} {
		data, err := readFile(paths[name], name != tlsCertFile)
		if err != nil {
			return nil, err
		}
		contents[name] = data
	}
	defer clear(contents[ageKeyFile])
	defer clear(contents[signingFile])
	defer clear(contents[tlsKeyFile])

	ageID, err := parseAgeFile(contents[ageKeyFile])
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", paths[ageKeyFile], err)
	}
	signingKey, err := jws.ParsePrivateJWK(contents[signingFile])
	if err != nil {
		// jws guarantees its errors carry no key material.
		return nil, fmt.Errorf("identity: %s: %w", paths[signingFile], err)
	}
	keySet, err := jws.ParseKeySet(contents[jwksFile])
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", paths[jwksFile], err)
	}
	id, err := assemble(ageID, signingKey, keySet, contents[tlsCertFile], contents[tlsKeyFile])
	if err != nil {
		return nil, fmt.Errorf("%w (files %s, %s, %s)", err, paths[jwksFile], paths[tlsCertFile], paths[tlsKeyFile])
	}
	return id, nil
}

// parseAgeFile reads an age identity file holding exactly one X25519 identity. Its errors
// deliberately do not wrap age's, which may quote characters of the secret key.
func parseAgeFile(data []byte) (*age.X25519Identity, error) {
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, errors.New("not a valid age identity file (AGE-SECRET-KEY-1...)")
	}
	if len(ids) != 1 {
		return nil, fmt.Errorf("holds %d identities; want exactly one", len(ids))
	}
	x, ok := ids[0].(*age.X25519Identity)
	if !ok {
		return nil, errors.New("holds an age identity that is not X25519")
	}
	return x, nil
}

// assemble builds an Identity from its parts and checks that they belong together. A nil
// keySet means a new identity whose key set holds just the signing key.
func assemble(ageID *age.X25519Identity, signingKey ed25519.PrivateKey, keySet *jws.KeySet, certPEM, keyPEM []byte) (*Identity, error) {
	signer := jws.NewSigner(signingKey)
	if keySet == nil {
		keySet = jws.NewKeySet()
		keySet.Add(signer.Public())
	}
	if signer.KID() == "" {
		return nil, errors.New("identity: signing key is not a valid Ed25519 key")
	}
	if _, ok := keySet.Lookup(signer.KID()); !ok {
		return nil, fmt.Errorf("identity: the key set does not contain the current signing key %s", signer.KID())
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("identity: TLS key pair: %w", err)
	}
	leaf := cert.Leaf
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("identity: TLS certificate: want an ECDSA P-256 key")
	}
	state, ok := strings.CutPrefix(leaf.Subject.CommonName, "entente ")
	if !ok {
		return nil, fmt.Errorf("identity: TLS certificate: common name %q is not \"entente <STATE>\"", leaf.Subject.CommonName)
	}
	if err := CheckStateShape(state); err != nil {
		return nil, fmt.Errorf("identity: TLS certificate common name: %w", err)
	}
	return &Identity{
		State:  state,
		Age:    ageID,
		Signer: signer,
		Keys:   keySet,
		TLS:    cert,
		TLSPin: Pin(leaf),
	}, nil
}

// Rotate replaces the node's Ed25519 signing key. The new public key is added to
// jwks.json before the new private key replaces the old one, so at every moment the
// published key set verifies whatever the node signs; the old public key stays in the set
// so that earlier signatures still verify, and the old private key is gone. If the member
// card exists it is rewritten with the new key (and its API address kept). Rotate must not
// run concurrently with itself or with a running node on the same data directory.
func Rotate(dataDir string) (oldKID, newKID string, err error) {
	id, err := Load(dataDir)
	if err != nil {
		return "", "", err
	}
	cardPath := filepath.Join(dataDir, CardFile)
	var oldCard *Card
	if data, err := os.ReadFile(cardPath); err == nil {
		c, err := ParseCard(data)
		if err != nil {
			return "", "", fmt.Errorf("identity: %s: %w (fix or remove it, then rotate again)", cardPath, err)
		}
		oldCard = &c
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("identity: %w", err)
	}

	_, newKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("identity: generate signing key: %w", err)
	}
	signer := jws.NewSigner(newKey)
	oldKID, newKID = id.Signer.KID(), signer.KID()
	id.Keys.Add(signer.Public())
	jwks, err := id.Keys.MarshalJSON()
	if err != nil {
		return "", "", fmt.Errorf("identity: encode key set: %w", err)
	}
	// Check that the new set reads back (it is bounded in size) before changing anything.
	if _, err := jws.ParseKeySet(jwks); err != nil {
		return "", "", fmt.Errorf("identity: new key set would not load: %w", err)
	}
	signingJWK, err := jws.MarshalPrivateJWK(newKey)
	if err != nil {
		return "", "", fmt.Errorf("identity: encode signing key: %w", err)
	}
	defer clear(signingJWK)
	id.Signer = signer
	var card []byte
	if oldCard != nil {
		if card, err = marshalCard(id.Card(oldCard.APIAddr)); err != nil {
			return "", "", err
		}
	}

	keys := filepath.Join(dataDir, keysDir)
	if err := writeReplace(filepath.Join(dataDir, jwksFile), jwks, secretMode); err != nil {
		return "", "", err
	}
	if err := writeReplace(filepath.Join(dataDir, signingFile), signingJWK, secretMode); err != nil {
		return "", "", err
	}
	if err := syncDir(keys); err != nil {
		return "", "", err
	}
	if card != nil {
		if err := writeReplace(cardPath, card, publicMode); err != nil {
			return "", "", fmt.Errorf("%w (the key was rotated; regenerate the card)", err)
		}
		if err := syncDir(dataDir); err != nil {
			return "", "", err
		}
	}
	return oldKID, newKID, nil
}

// marshalCard renders a card as the member.card.json file and checks that it reads back,
// so Create and Rotate never publish a card other states would refuse.
func marshalCard(c Card) ([]byte, error) {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("identity: encode member card: %w", err)
	}
	data = append(data, '\n')
	if _, err := ParseCard(data); err != nil {
		return nil, fmt.Errorf("identity: member card would not be accepted: %w", err)
	}
	return data, nil
}

// CheckStateShape checks that state looks like an ISO 3166-1 alpha-3 code: three
// upper-case ASCII letters. Whether the code is assigned is policy's question
// (policy.ValidStateCode), asked by the callers; crypto stays a leaf that imports no
// other part of the project.
func CheckStateShape(state string) error {
	if len(state) != 3 {
		return fmt.Errorf("%q is not an ISO 3166-1 alpha-3 state code (three upper-case letters, for example FRA)", state)
	}
	for i := 0; i < 3; i++ {
		if state[i] < 'A' || state[i] > 'Z' {
			return fmt.Errorf("%q is not an ISO 3166-1 alpha-3 state code (three upper-case letters, for example FRA)", state)
		}
	}
	return nil
}
