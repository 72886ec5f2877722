//go:build unix

package identity

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCreateModesIgnoreUmask checks that the modes are exact under a strict and a loose
// umask: secrets must not become world-readable, and the public files must stay readable.
func TestCreateModesIgnoreUmask(t *testing.T) {
	for _, mask := range []int{0o077, 0o000} {
		old := syscall.Umask(mask)
		dir := filepath.Join(t.TempDir(), "data")
		_, err := Create(dir, "GBR", "node.gbr.example:8443")
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]fs.FileMode{
			"": fs.ModeDir | 0o700, keysDir: fs.ModeDir | 0o700, ageKeyFile: 0o600, signingFile: 0o600,
			jwksFile: 0o600, tlsKeyFile: 0o600, tlsCertFile: 0o644, CardFile: 0o644,
		} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != want {
				t.Errorf("umask %03o: %s has mode %v, want %v", mask, name, fi.Mode(), want)
			}
		}
	}
}
