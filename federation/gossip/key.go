package gossip

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// KeySize is the length of the federation's gossip key: 32 bytes selects AES-256-GCM in
// memberlist's keyring.
const KeySize = 32

// maxKeyFile bounds what LoadKey reads: a key file is 44 base64 characters and a newline.
const maxKeyFile = 256

// LoadKey reads the federation's gossip key from path: the standard base64 encoding of 32
// bytes, optionally surrounded by whitespace (a trailing newline). The key is a shared
// secret that lets its holder into the federation's gossip, so the file must not be
// readable or writable by group or others; such a file is refused with the chmod to run.
// Errors name the file and what is wrong, never any of its content.
func LoadKey(path string) ([]byte, error) {
	// Refuse anything but a regular file before opening it: opening a FIFO would block.
	before, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("gossip: key file: %w", err)
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("gossip: key file %s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gossip: key file: %w", err)
	}
	defer f.Close()
	// Check the mode of the open file, so the mode checked is the mode of what is read
	// even if the path was swapped in between.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("gossip: key file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() || !os.SameFile(before, fi) {
		return nil, fmt.Errorf("gossip: key file %s: changed while being opened", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("gossip: key file %s has mode %04o, open to group or others: run \"chmod 600 %s\" (and consider the key exposed if others could read it)", path, perm, path)
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	defer clear(raw)
	if err != nil {
		return nil, fmt.Errorf("gossip: key file %s: %w", path, err)
	}
	if len(raw) > maxKeyFile {
		return nil, fmt.Errorf("gossip: key file %s: longer than %d bytes; expected the base64 of %d bytes", path, maxKeyFile, KeySize)
	}
	text := bytes.TrimSpace(raw)
	key := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Strict().Decode(key, text)
	if err != nil {
		clear(key)
		// The decoder's error quotes an offset, not content; still, say it plainly.
		return nil, fmt.Errorf("gossip: key file %s: not standard base64; generate one with GenerateKey", path)
	}
	if n != KeySize {
		clear(key)
		return nil, fmt.Errorf("gossip: key file %s: decodes to %d bytes, want %d", path, n, KeySize)
	}
	return key[:n:n], nil
}

// GenerateKey writes a new random gossip key to path as LoadKey reads it, with mode 0600.
// It never overwrites: replacing the key of a running federation cuts the node off from
// every peer, so an existing file is an error and rotation is a deliberate step.
func GenerateKey(path string) error {
	var key [KeySize]byte
	defer clear(key[:])
	if _, err := rand.Read(key[:]); err != nil {
		return fmt.Errorf("gossip: generate key: %w", err)
	}
	text := make([]byte, base64.StdEncoding.EncodedLen(KeySize), base64.StdEncoding.EncodedLen(KeySize)+1)
	defer clear(text)
	base64.StdEncoding.Encode(text, key[:])
	text = append(text, '\n')

	// O_EXCL refuses an existing file, including a symlink pointing anywhere.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("gossip: key file %s already exists; refusing to overwrite it", path)
	}
	if err != nil {
		return fmt.Errorf("gossip: key file: %w", err)
	}
	_, werr := f.Write(text)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return fmt.Errorf("gossip: key file %s: %w", path, werr)
	}
	// Make the new name durable too, so a crash does not leave a node without its key.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
