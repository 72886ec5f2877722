//go:build unix

package gossip

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLoadKeyRefusesFIFO: a named pipe in place of the key file is refused without
// blocking on open (no writer will ever come).
func TestLoadKeyRefusesFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gossip.key")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(p); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("FIFO: %v", err)
	}
}
