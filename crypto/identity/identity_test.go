package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/entente/entente/crypto/jws"
)

var allFiles = []string{ageKeyFile, signingFile, jwksFile, tlsKeyFile, tlsCertFile, CardFile}
var secretFiles = []string{ageKeyFile, signingFile, jwksFile, tlsKeyFile}

func create(t *testing.T) (string, *Identity) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	id, err := Create(dir, "FRA", "node.fra.example:8443")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return dir, id
}

// snapshot records every file under dir with its mode and content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		content := ""
		if !d.IsDir() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			content = string(b)
		}
		out[path] = info.Mode().String() + "\n" + content
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCreateLoadRoundTrip(t *testing.T) {
	dir, created := create(t)
	loaded, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if loaded.State != "FRA" || created.State != "FRA" {
		t.Errorf("State = %q / %q, want FRA", created.State, loaded.State)
	}
	if loaded.Age.String() != created.Age.String() {
		t.Error("age identity differs after Load")
	}
	if loaded.Signer.KID() != created.Signer.KID() || loaded.Signer.KID() == "" {
		t.Errorf("signer kid %q after Load, %q after Create", loaded.Signer.KID(), created.Signer.KID())
	}
	if !loaded.Signer.Public().Equal(created.Signer.Public()) {
		t.Error("signing key differs after Load")
	}
	if got, want := loaded.Keys.KIDs(), created.Keys.KIDs(); !slices.Equal(got, want) || len(got) != 1 || got[0] != created.Signer.KID() {
		t.Errorf("key set kids %v after Load, %v after Create", got, want)
	}
	if !bytes.Equal(loaded.TLS.Certificate[0], created.TLS.Certificate[0]) {
		t.Error("TLS certificate differs after Load")
	}
	if loaded.TLSPin != created.TLSPin || !strings.HasPrefix(loaded.TLSPin, "sha256:") {
		t.Errorf("TLS pin %q after Load, %q after Create", loaded.TLSPin, created.TLSPin)
	}
	// The loaded keys work: a signature verifies against the loaded key set, and the age
	// identity opens what is sealed to the card's recipient.
	sig, err := loaded.Signer.Detached([]byte("body"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.VerifyDetached(loaded.Keys, []byte("body"), sig); err != nil {
		t.Errorf("signature by loaded signer does not verify: %v", err)
	}
	card, err := ParseCard(mustRead(t, filepath.Join(dir, CardFile)))
	if err != nil {
		t.Fatalf("member card written by Create: %v", err)
	}
	r, err := card.Recipient()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("secret"))
	_ = w.Close()
	if _, err := age.Decrypt(&buf, loaded.Age); err != nil {
		t.Errorf("loaded age identity cannot open a file sealed to the card: %v", err)
	}
	// The age key file is usable by the age tool: standard identity format.
	ids, err := age.ParseIdentities(bytes.NewReader(mustRead(t, filepath.Join(dir, ageKeyFile))))
	if err != nil || len(ids) != 1 {
		t.Errorf("age.key is not a standard age identity file: %v", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCreatePermissions(t *testing.T) {
	dir, _ := create(t)
	want := map[string]fs.FileMode{
		"":          fs.ModeDir | 0o700,
		keysDir:     fs.ModeDir | 0o700,
		ageKeyFile:  0o600,
		signingFile: 0o600,
		jwksFile:    0o600,
		tlsKeyFile:  0o600,
		tlsCertFile: 0o644,
		CardFile:    0o644,
	}
	for name, mode := range want {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), mode)
		}
	}
	// Nothing else was left behind (temporary files in particular).
	var names []string
	for path := range snapshot(t, dir) {
		rel, _ := filepath.Rel(dir, path)
		names = append(names, rel)
	}
	slices.Sort(names)
	wantNames := []string{".", CardFile, keysDir, ageKeyFile, jwksFile, signingFile, tlsCertFile, tlsKeyFile}
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Errorf("data directory holds %v, want %v", names, wantNames)
	}
}

func TestCreateTightensExistingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(dir, keysDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir, "DEU", "10.0.0.2:8443"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Join(dir, keysDir)} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want 0700", d, fi.Mode().Perm())
		}
	}
}

func TestCreateRefusesToOverwrite(t *testing.T) {
	dir, _ := create(t)
	before := snapshot(t, dir)
	_, err := Create(dir, "FRA", "node.fra.example:8443")
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, ageKeyFile)) {
		t.Errorf("error %q does not name the existing file", err)
	}
	if after := snapshot(t, dir); !mapsEqual(before, after) {
		t.Error("second Create changed the data directory")
	}
}

func TestCreateRefusesPartialIdentity(t *testing.T) {
	// Each identity file alone blocks Create, and Create leaves the directory as it was.
	for _, name := range allFiles {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.MkdirAll(filepath.Join(dir, keysDir), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte("precious\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			_, err := Create(dir, "FRA", "node.fra.example:8443")
			if !errors.Is(err, ErrExists) {
				t.Fatalf("Create with existing %s: %v, want ErrExists", name, err)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, name)) {
				t.Errorf("error %q does not name %s", err, name)
			}
			if after := snapshot(t, dir); !mapsEqual(before, after) {
				t.Errorf("Create changed the directory: before %d entries, after %d", len(before), len(after))
			}
		})
	}
}

func TestCreateRejectsBadInput(t *testing.T) {
	tests := []struct {
		name, state, addr, wantErr string
	}{
		{"malformed state", "fra", "node.example:8443", `"fra" is not an ISO 3166-1 alpha-3 state code`},
		{"lower-case state", "fra", "node.example:8443", "state"},
		{"no port", "FRA", "node.example", "want host:port"},
		{"empty host", "FRA", ":8443", "give a host"},
		{"unspecified IPv4", "FRA", "0.0.0.0:8443", "listen address"},
		{"unspecified IPv6", "FRA", "[::]:8443", "listen address"},
		{"port zero", "FRA", "node.example:0", "port"},
		{"port too big", "FRA", "node.example:70000", "port"},
		{"named port", "FRA", "node.example:https", "port"},
		{"bad host", "FRA", "node_1.example:8443", "neither an IP address nor a DNS name"},
		{"zone", "FRA", "[fe80::1%eth0]:8443", "zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			_, err := Create(dir, tt.state, tt.addr)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Create(%q, %q) error %v, want containing %q", tt.state, tt.addr, err, tt.wantErr)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Create with bad input touched the data directory (%v)", err)
			}
		})
	}
}

func TestLoadRefusesLooseSecretFiles(t *testing.T) {
	for _, name := range secretFiles {
		for _, mode := range []fs.FileMode{0o644, 0o640, 0o604, 0o620, 0o602, 0o700} {
			dir, _ := create(t)
			path := filepath.Join(dir, name)
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if mode == 0o700 {
				// Owner-only execute bit: odd but not exposed to anyone else.
				if err != nil {
					t.Errorf("%s at %04o: %v", name, mode, err)
				}
				continue
			}
			if err == nil {
				t.Errorf("Load accepted %s at mode %04o", name, mode)
				continue
			}
			if !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Errorf("%s at %04o: error %q does not say chmod 600 %s", name, mode, err, path)
			}
		}
	}
	// The public files may be world-readable.
	dir, _ := create(t)
	if _, err := Load(dir); err != nil {
		t.Errorf("Load with 0644 certificate: %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	for _, name := range []string{ageKeyFile, signingFile, jwksFile, tlsKeyFile, tlsCertFile} {
		dir, _ := create(t)
		path := filepath.Join(dir, name)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "run entente init") {
			t.Errorf("Load without %s: error %v, want it to name the file and say run entente init", name, err)
		}
	}
	// The card is not needed to run.
	dir, _ := create(t)
	if err := os.Remove(filepath.Join(dir, CardFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err != nil {
		t.Errorf("Load without the card: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "nothing-here")); err == nil || !strings.Contains(err.Error(), "run entente init") {
		t.Errorf("Load of an empty directory: %v", err)
	}
}

func TestLoadDetectsMismatchedParts(t *testing.T) {
	dirA, _ := create(t)
	dirB, _ := create(t)
	tests := []struct {
		name, file, wantErr string
	}{
		{"key set without the signing key", jwksFile, "does not contain the current signing key"},
		{"TLS key from another node", tlsKeyFile, "TLS key pair"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			copyTree(t, dirA, dir)
			if err := os.WriteFile(filepath.Join(dir, tt.file), mustRead(t, filepath.Join(dirB, tt.file)), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load: %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadErrorsCarryNoSecrets(t *testing.T) {
	dir, _ := create(t)
	secrets := map[string][]byte{}
	for _, name := range secretFiles {
		secrets[name] = mustRead(t, filepath.Join(dir, name))
	}
	ageSecret := strings.TrimSpace(string(secrets[ageKeyFile][bytes.Index(secrets[ageKeyFile], []byte("AGE-SECRET-KEY-")):]))
	var jwk struct {
		D string `json:"d"`
	}
	if err := json.Unmarshal(secrets[signingFile], &jwk); err != nil || jwk.D == "" {
		t.Fatalf("signing.jwk has no d: %v", err)
	}
	corruptions := []struct {
		file string
		data string
	}{
		{ageKeyFile, ageSecret[:len(ageSecret)-3] + "!!!\n"},
		{ageKeyFile, strings.ToLower(ageSecret[:30]) + ageSecret[30:] + "\n"},
		{signingFile, strings.Replace(string(secrets[signingFile]), `"x":"`, `"x":"A`, 1)},
		{signingFile, strings.Replace(string(secrets[signingFile]), `"d":"`, `"d":"#`, 1)},
	}
	for i, c := range corruptions {
		d := filepath.Join(t.TempDir(), "data")
		copyTree(t, dir, d)
		if err := os.WriteFile(filepath.Join(d, c.file), []byte(c.data), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(d)
		if err == nil {
			t.Errorf("corruption %d of %s: Load succeeded", i, c.file)
			continue
		}
		msg := err.Error()
		for _, secret := range []string{ageSecret[15:40], jwk.D[:12]} {
			if strings.Contains(msg, secret) || strings.Contains(strings.ToLower(msg), strings.ToLower(secret)) {
				t.Errorf("corruption %d: error %q contains secret material", i, msg)
			}
		}
		if !strings.Contains(msg, c.file) {
			t.Errorf("corruption %d: error %q does not name %s", i, msg, c.file)
		}
	}
}

func TestRotate(t *testing.T) {
	dir, id := create(t)
	oldSigning := mustRead(t, filepath.Join(dir, signingFile))
	oldSig, err := id.Signer.Detached([]byte("before"))
	if err != nil {
		t.Fatal(err)
	}

	oldKID, newKID, err := Rotate(dir)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if oldKID != id.Signer.KID() || newKID == oldKID || newKID == "" {
		t.Fatalf("Rotate returned %q -> %q; identity had %q", oldKID, newKID, id.Signer.KID())
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatalf("Load after Rotate: %v", err)
	}
	if loaded.Signer.KID() != newKID {
		t.Errorf("signer kid %q after Rotate, want %q", loaded.Signer.KID(), newKID)
	}
	if _, ok := loaded.Keys.Lookup(oldKID); !ok {
		t.Error("old kid no longer in the key set")
	}
	if _, ok := loaded.Keys.Lookup(newKID); !ok {
		t.Error("new kid not in the key set")
	}
	if _, err := jws.VerifyDetached(loaded.Keys, []byte("before"), oldSig); err != nil {
		t.Errorf("a signature made before the rotation no longer verifies: %v", err)
	}
	// The old private key is gone from the signing file.
	newSigning := mustRead(t, filepath.Join(dir, signingFile))
	var oldJWK, newJWK struct{ D string }
	_ = json.Unmarshal(oldSigning, &oldJWK)
	_ = json.Unmarshal(newSigning, &newJWK)
	if oldJWK.D == "" || newJWK.D == "" || oldJWK.D == newJWK.D || bytes.Contains(newSigning, []byte(oldJWK.D)) {
		t.Error("signing.jwk still holds the old private key")
	}
	// Everything else is unchanged; modes stay as specified; no temporary files remain.
	if loaded.Age.String() != id.Age.String() || loaded.TLSPin != id.TLSPin {
		t.Error("Rotate changed the age identity or the TLS key")
	}
	for name, mode := range map[string]fs.FileMode{signingFile: 0o600, jwksFile: 0o600, CardFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v after Rotate, want %v", name, fi.Mode(), mode)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, keysDir))
	if len(entries) != 5 {
		t.Errorf("keys directory holds %d entries after Rotate, want 5", len(entries))
	}
	// The card now carries the new key and keeps its address.
	card, err := ParseCard(mustRead(t, filepath.Join(dir, CardFile)))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := card.SigningKey()
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(loaded.Signer.Public()) || card.APIAddr != "node.fra.example:8443" {
		t.Errorf("card after Rotate: key matches=%v, api_addr %q", pub.Equal(loaded.Signer.Public()), card.APIAddr)
	}

	// A second rotation keeps both earlier keys.
	_, third, err := Rotate(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Keys.KIDs(); len(got) != 3 || !slices.Contains(got, oldKID) || !slices.Contains(got, newKID) || !slices.Contains(got, third) {
		t.Errorf("key set after two rotations: %v", got)
	}
}

func TestRotateWithoutCardAndWithBadCard(t *testing.T) {
	dir, _ := create(t)
	if err := os.Remove(filepath.Join(dir, CardFile)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Rotate(dir); err != nil {
		t.Fatalf("Rotate without a card: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, CardFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Rotate created a card it had no address for")
	}

	dir, _ = create(t)
	if err := os.WriteFile(filepath.Join(dir, CardFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	if _, _, err := Rotate(dir); err == nil || !strings.Contains(err.Error(), CardFile) {
		t.Fatalf("Rotate with a broken card: %v", err)
	}
	if !mapsEqual(before, snapshot(t, dir)) {
		t.Error("a failed Rotate changed the data directory")
	}

	if _, _, err := Rotate(filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "run entente init") {
		t.Errorf("Rotate without an identity: %v", err)
	}
	loose, _ := create(t)
	if err := os.Chmod(filepath.Join(loose, signingFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Rotate(loose); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Rotate with a loose key file: %v", err)
	}
}

func TestRotateRefusesOverfullKeySet(t *testing.T) {
	dir, _ := create(t)
	for i := 1; i < jws.MaxKeySetKeys; i++ {
		if _, _, err := Rotate(dir); err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
	}
	before := snapshot(t, dir)
	if _, _, err := Rotate(dir); err == nil || !strings.Contains(err.Error(), "key set") {
		t.Fatalf("rotation past %d keys: %v", jws.MaxKeySetKeys, err)
	}
	if !mapsEqual(before, snapshot(t, dir)) {
		t.Error("a refused Rotate changed the data directory")
	}
	if _, err := Load(dir); err != nil {
		t.Errorf("identity no longer loads: %v", err)
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
