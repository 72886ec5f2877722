package identity

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Paths inside the data directory. Secrets live under keys/ so that one directory can be
// locked down, backed up or mounted separately; the member card sits at the top because
// the operator hands it to the other states.
const (
	keysDir     = "keys"
	ageKeyFile  = "keys/age.key"
	signingFile = "keys/signing.jwk"
	jwksFile    = "keys/jwks.json"
	tlsKeyFile  = "keys/tls.key"
	tlsCertFile = "keys/tls.crt"
	// CardFile is where Create writes the node's public member card, relative to the data
	// directory; the operator sends this file to the other member states.
	CardFile = "member.card.json"
)

// File modes. Secrets are readable by the node's user only; the certificate and the card
// are public by nature.
const (
	dirMode    fs.FileMode = 0o700
	secretMode fs.FileMode = 0o600
	publicMode fs.FileMode = 0o644
)

// maxFileSize bounds what Load reads from any identity file. Real files are a few hundred
// bytes; the bound keeps a wrong path (a log file, a device) from being read whole.
const maxFileSize = 1 << 20

// ensureDir creates dir if needed and sets it to 0700, whatever the umask or an earlier
// mode, because the directory guards the key files in it.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("identity: create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		return fmt.Errorf("identity: chmod 700 %s: %w", dir, err)
	}
	return nil
}

// writeTemp writes data to a new temporary file next to path, with mode, synced to disk,
// and returns its name. The temporary file is created 0600 from the start, so secret
// bytes are never readable by others, not even for a moment.
func writeTemp(path string, data []byte, mode fs.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("identity: write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) (string, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return "", fmt.Errorf("identity: write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("identity: write %s: %w", path, err)
	}
	return tmp, nil
}

// writeNew writes a file that must not exist yet. The content goes to a temporary file
// first and is then hard-linked into place: the link fails if path exists, so nothing is
// ever overwritten, and path never holds half-written content. On a file system without
// hard links it falls back to O_CREATE|O_EXCL, which keeps the no-overwrite guarantee.
func writeNew(path string, data []byte, mode fs.FileMode) error {
	tmp, err := writeTemp(path, data, mode)
	if err != nil {
		return err
	}
	linkErr := os.Link(tmp, path)
	_ = os.Remove(tmp)
	switch {
	case linkErr == nil:
		return nil
	case errors.Is(linkErr, fs.ErrExist):
		return fmt.Errorf("%w: %s", ErrExists, path)
	}
	return writeExclusive(path, data, mode)
}

// writeExclusive creates path with O_EXCL and writes data to it. On failure it removes the
// partial file it created.
func writeExclusive(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s", ErrExists, path)
	}
	if err != nil {
		return fmt.Errorf("identity: write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("identity: write %s: %w", path, err)
	}
	return nil
}

// writeReplace atomically replaces path (temporary file + rename), so a crash leaves
// either the old or the new content, never a mixture. Rotate uses it; Create never does.
func writeReplace(path string, data []byte, mode fs.FileMode) error {
	tmp, err := writeTemp(path, data, mode)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("identity: replace %s: %w", path, err)
	}
	return nil
}

// syncDir makes renames and new directory entries in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("identity: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("identity: sync %s: %w", dir, err)
	}
	return nil
}

// readFile reads one identity file. A missing file means the node was never initialised
// (or the data directory is wrong), which the error says. For a secret file it refuses
// modes that let group or others read or write it: a key that others could read must be
// treated as leaked, and a node should not quietly run on one.
func readFile(path string, secret bool) ([]byte, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("identity: %s is missing: run entente init first (or check the data directory)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("identity: %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); secret && perm&0o077 != 0 {
		return nil, fmt.Errorf("identity: %s is accessible by group or others (mode %04o): chmod 600 %s", path, perm, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("identity: read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("identity: %s is larger than %d bytes: not an identity file", path, maxFileSize)
	}
	return data, nil
}
