package gossip

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// noSecret fails if err quotes the key file's content or any sizeable piece of it.
func noSecret(t *testing.T, err error, content string) {
	t.Helper()
	msg := err.Error()
	content = strings.TrimSpace(content)
	for i := 0; i+8 <= len(content); i++ {
		if strings.Contains(msg, content[i:i+8]) {
			t.Fatalf("error %q quotes the key file content", msg)
		}
	}
}

func writeKeyFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gossip.key")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGenerateAndLoadKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gossip.key")
	if err := GenerateKey(p); err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o, want 0600", fi.Mode().Perm())
	}
	key, err := LoadKey(p)
	if err != nil {
		t.Fatalf("LoadKey: %v", err)
	}
	if len(key) != KeySize || bytes.Equal(key, make([]byte, KeySize)) {
		t.Fatalf("key of %d bytes, or all zero", len(key))
	}
	before, _ := os.ReadFile(p)

	err = GenerateKey(p)
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second GenerateKey = %v, want a refusal", err)
	}
	noSecret(t, err, string(before))
	if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
		t.Fatalf("existing key file changed")
	}

	// A symlink in the way is refused too, and its target left alone.
	link := filepath.Join(t.TempDir(), "link.key")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if err := GenerateKey(link); err == nil {
		t.Fatalf("GenerateKey over a symlink succeeded")
	}
	if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
		t.Fatalf("symlink target changed")
	}

	// Two generated keys differ.
	p2 := filepath.Join(t.TempDir(), "other.key")
	if err := GenerateKey(p2); err != nil {
		t.Fatal(err)
	}
	if key2, err := LoadKey(p2); err != nil || bytes.Equal(key, key2) {
		t.Fatalf("second key equal to the first or unreadable: %v", err)
	}

	if err := GenerateKey(filepath.Join(t.TempDir(), "missing", "dir", "k")); err == nil {
		t.Fatalf("GenerateKey into a missing directory succeeded")
	}
}

func TestLoadKeyRefuses(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, KeySize))
	cases := []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"world readable", good + "\n", 0o644, "chmod 600"},
		{"group readable", good, 0o640, "chmod 600"},
		{"others writable", good, 0o602, "chmod 600"},
		{"group writable", good, 0o620, "chmod 600"},
		{"16 bytes", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 16)), 0o600, "decodes to 16 bytes, want 32"},
		{"33 bytes", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 33)), 0o600, "decodes to 33 bytes, want 32"},
		{"empty", "", 0o600, "decodes to 0 bytes"},
		{"not base64", "this-is-not-base64-at-all!!this-is-not-base64", 0o600, "not standard base64"},
		{"url alphabet", strings.NewReplacer("+", "-", "/", "_").Replace(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, KeySize))), 0o600, "not standard base64"},
		{"unpadded", strings.TrimRight(good, "="), 0o600, "not standard base64"},
		{"raw bytes", string(bytes.Repeat([]byte{0x5a}, KeySize)), 0o600, "want 32"},
		{"binary", string(bytes.Repeat([]byte{0xfe}, KeySize)), 0o600, "not standard base64"},
		{"two keys", good + "\n" + good + "\n", 0o600, "not standard base64"},
		{"huge", strings.Repeat(good, 20), 0o600, "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeKeyFile(t, c.content, c.mode)
			key, err := LoadKey(p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("LoadKey = %d bytes, %v; want an error with %q", len(key), err, c.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q does not name the file", err)
			}
			noSecret(t, err, c.content)
		})
	}

	ok := writeKeyFile(t, "  "+good+"\r\n", 0o400)
	if key, err := LoadKey(ok); err != nil || len(key) != KeySize {
		t.Fatalf("read-only key with whitespace: %v", err)
	}

	if _, err := LoadKey(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("directory: %v", err)
	}
	if _, err := LoadKey(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Fatalf("missing file accepted")
	}
}
