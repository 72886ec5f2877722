package identity

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
)

// openEpochKeys opens the epoch key store under dataDir or fails the test.
func openEpochKeys(t *testing.T, dataDir string) *EpochKeys {
	t.Helper()
	k, err := OpenEpochKeys(dataDir)
	if err != nil {
		t.Fatalf("OpenEpochKeys: %v", err)
	}
	return k
}

// epochRecipient returns the recipient for epoch or fails the test.
func epochRecipient(t *testing.T, k *EpochKeys, epoch uint64) string {
	t.Helper()
	r, err := k.Recipient(epoch)
	if err != nil {
		t.Fatalf("Recipient(%d): %v", epoch, err)
	}
	return r
}

// epochFile is the path of epoch's key file under dataDir.
func epochFile(dataDir string, epoch uint64) string {
	return filepath.Join(dataDir, EpochKeysDir, epochFileName(epoch))
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err == nil {
		return true
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return false
}

func TestEpochRecipientCreatesPrivateFile(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	k := openEpochKeys(t, data)
	if got := k.Epochs(); len(got) != 0 {
		t.Fatalf("a new store holds epochs %v", got)
	}
	r := epochRecipient(t, k, 5)
	if _, err := age.ParseX25519Recipient(r); err != nil {
		t.Fatalf("Recipient returned %q, not an age X25519 recipient: %v", r, err)
	}
	fi, err := os.Stat(epochFile(data, 5))
	if err != nil {
		t.Fatalf("no key file for epoch 5: %v", err)
	}
	if fi.Mode() != 0o600 {
		t.Fatalf("epoch key file has mode %v, want 0600", fi.Mode())
	}
	// The file holds the identity whose recipient was returned.
	b, err := os.ReadFile(epochFile(data, 5))
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.ParseX25519Identity(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("key file is not an age identity: %v", err)
	}
	if id.Recipient().String() != r {
		t.Fatal("the key file holds another identity than the recipient returned")
	}
	// No temporary file is left next to it.
	ents, err := os.ReadDir(filepath.Join(data, EpochKeysDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "5.age" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("epoch key directory holds %v, want [5.age]", names)
	}

	if again := epochRecipient(t, k, 5); again != r {
		t.Fatal("a second Recipient for the same epoch returned another recipient")
	}
	r6 := epochRecipient(t, k, 6)
	if r6 == r {
		t.Fatal("two epochs share one recipient")
	}
	if got := k.Epochs(); !slices.Equal(got, []uint64{5, 6}) {
		t.Fatalf("Epochs() = %v, want [5 6]", got)
	}

	k2 := openEpochKeys(t, data)
	if got := epochRecipient(t, k2, 5); got != r {
		t.Fatal("after reopening, epoch 5 has another recipient")
	}
	if got := epochRecipient(t, k2, 6); got != r6 {
		t.Fatal("after reopening, epoch 6 has another recipient")
	}
	if got := k2.Epochs(); !slices.Equal(got, []uint64{5, 6}) {
		t.Fatalf("after reopening Epochs() = %v, want [5 6]", got)
	}
	if k2.Floor() != 0 {
		t.Fatalf("a store that never destroyed anything has floor %d", k2.Floor())
	}
}

func TestEpochIdentityDecryptsForItsRecipient(t *testing.T) {
	data := t.TempDir()
	k := openEpochKeys(t, data)
	r3, r4 := epochRecipient(t, k, 3), epochRecipient(t, k, 4)
	rcpt, err := age.ParseX25519Recipient(r3)
	if err != nil {
		t.Fatal(err)
	}
	var ct bytes.Buffer
	w, err := age.Encrypt(&ct, rcpt)
	if err != nil {
		t.Fatal(err)
	}
	const msg = "data key for epoch 3"
	if _, err := io.WriteString(w, msg); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	decrypt := func(id age.Identity) (string, error) {
		rd, err := age.Decrypt(bytes.NewReader(ct.Bytes()), id)
		if err != nil {
			return "", err
		}
		b, err := io.ReadAll(rd)
		return string(b), err
	}

	id3, ok := k.EpochIdentity(3)
	if !ok {
		t.Fatal("no identity for epoch 3")
	}
	if got, err := decrypt(id3); err != nil || got != msg {
		t.Fatalf("epoch 3 identity decrypts to %q, %v", got, err)
	}
	// Another epoch's identity does not.
	id4, ok := k.EpochIdentity(4)
	if !ok {
		t.Fatal("no identity for epoch 4")
	}
	var nomatch *age.NoIdentityMatchError
	if _, err := decrypt(id4); !errors.As(err, &nomatch) {
		t.Fatalf("epoch 4 identity on a file for epoch 3: %v, want NoIdentityMatchError", err)
	}
	if _, ok := k.EpochIdentity(9); ok {
		t.Fatal("EpochIdentity returned an identity for an epoch never created")
	}
	// After a reopen the identity read from disk still decrypts.
	k2 := openEpochKeys(t, data)
	id3b, ok := k2.EpochIdentity(3)
	if !ok {
		t.Fatal("no identity for epoch 3 after reopening")
	}
	if got, err := decrypt(id3b); err != nil || got != msg {
		t.Fatalf("reopened epoch 3 identity decrypts to %q, %v", got, err)
	}
	// Identities lists every identity held, in epoch order.
	ids := k2.Identities()
	if len(ids) != 2 {
		t.Fatalf("Identities() holds %d, want 2", len(ids))
	}
	for i, want := range []string{r3, r4} {
		x, ok := ids[i].(*age.X25519Identity)
		if !ok || x.Recipient().String() != want {
			t.Fatalf("Identities()[%d] is not the identity of epoch %d", i, 3+i)
		}
	}
}

func TestEpochRecipientConcurrentCreatesOne(t *testing.T) {
	data := t.TempDir()
	k := openEpochKeys(t, data)
	const n = 16
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = k.Recipient(7) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent Recipient: %v", errs[i])
		}
		if got[i] != got[0] {
			t.Fatal("concurrent Recipient calls for one epoch returned different recipients")
		}
	}
	if r := epochRecipient(t, openEpochKeys(t, data), 7); r != got[0] {
		t.Fatal("the stored identity is not the one handed out")
	}
}

func TestDestroyBefore(t *testing.T) {
	data := t.TempDir()
	k := openEpochKeys(t, data)
	rcpts := map[uint64]string{}
	for _, e := range []uint64{3, 4, 5, 7} {
		rcpts[e] = epochRecipient(t, k, e)
	}
	// A second name for epoch 4's file shows whether its bytes were overwritten before
	// the file was removed.
	link := filepath.Join(data, "epoch4-link")
	if err := os.Link(epochFile(data, 4), link); err != nil {
		t.Fatal(err)
	}

	gone, err := k.DestroyBefore(5)
	if err != nil {
		t.Fatalf("DestroyBefore(5): %v", err)
	}
	if !slices.Equal(gone, []uint64{3, 4}) {
		t.Fatalf("DestroyBefore(5) destroyed %v, want [3 4]", gone)
	}
	for e, want := range map[uint64]bool{3: false, 4: false, 5: true, 7: true} {
		if got := exists(t, epochFile(data, e)); got != want {
			t.Errorf("after DestroyBefore(5): file for epoch %d exists %t, want %t", e, got, want)
		}
		if _, ok := k.EpochIdentity(e); ok != want {
			t.Errorf("after DestroyBefore(5): EpochIdentity(%d) held %t, want %t", e, ok, want)
		}
	}
	if b, err := os.ReadFile(link); err != nil {
		t.Fatal(err)
	} else if len(b) == 0 || bytes.ContainsFunc(b, func(r rune) bool { return r != 0 }) {
		t.Errorf("the destroyed key file (%d bytes) was not overwritten with zeros", len(b))
	}
	if k.Floor() != 5 {
		t.Fatalf("Floor() = %d, want 5", k.Floor())
	}
	if got := k.Epochs(); !slices.Equal(got, []uint64{5, 7}) {
		t.Fatalf("Epochs() = %v, want [5 7]", got)
	}
	fi, err := os.Stat(filepath.Join(data, EpochKeysDir, floorFile))
	if err != nil {
		t.Fatalf("no floor file: %v", err)
	}
	if fi.Mode() != 0o600 {
		t.Errorf("floor file has mode %v, want 0600", fi.Mode())
	}
	for _, e := range []uint64{0, 3, 4} {
		if _, err := k.Recipient(e); !errors.Is(err, ErrEpochDestroyed) {
			t.Errorf("Recipient(%d) below the floor: %v, want ErrEpochDestroyed", e, err)
		}
	}
	if exists(t, epochFile(data, 4)) || exists(t, epochFile(data, 0)) {
		t.Fatal("Recipient below the floor created a key file")
	}
	// Epochs at or above the floor are still created, and kept ones are unchanged.
	if got := epochRecipient(t, k, 5); got != rcpts[5] {
		t.Fatal("epoch 5 changed recipient after DestroyBefore(5)")
	}
	r6 := epochRecipient(t, k, 6)

	// A lower or equal destruction is a no-op and never lowers the floor.
	for _, e := range []uint64{5, 2} {
		if gone, err := k.DestroyBefore(e); err != nil || len(gone) != 0 {
			t.Fatalf("DestroyBefore(%d) under the floor: %v, %v", e, gone, err)
		}
		if k.Floor() != 5 {
			t.Fatalf("DestroyBefore(%d) moved the floor to %d", e, k.Floor())
		}
	}

	// The floor and the destruction survive a reopen.
	k2 := openEpochKeys(t, data)
	if k2.Floor() != 5 {
		t.Fatalf("after reopening Floor() = %d, want 5", k2.Floor())
	}
	if got := k2.Epochs(); !slices.Equal(got, []uint64{5, 6, 7}) {
		t.Fatalf("after reopening Epochs() = %v, want [5 6 7]", got)
	}
	for _, e := range []uint64{3, 4} {
		if _, ok := k2.EpochIdentity(e); ok {
			t.Errorf("after reopening, destroyed epoch %d is held", e)
		}
		if _, err := k2.Recipient(e); !errors.Is(err, ErrEpochDestroyed) {
			t.Errorf("after reopening Recipient(%d): %v, want ErrEpochDestroyed", e, err)
		}
	}
	for e, want := range map[uint64]string{5: rcpts[5], 6: r6, 7: rcpts[7]} {
		if got := epochRecipient(t, k2, e); got != want {
			t.Errorf("after reopening, epoch %d has another recipient", e)
		}
	}

	// Destroying past every epoch empties the store.
	if gone, err := k2.DestroyBefore(100); err != nil || !slices.Equal(gone, []uint64{5, 6, 7}) {
		t.Fatalf("DestroyBefore(100): %v, %v", gone, err)
	}
	if got := openEpochKeys(t, data); got.Floor() != 100 || len(got.Epochs()) != 0 {
		t.Fatalf("after DestroyBefore(100) and a reopen: floor %d, epochs %v", got.Floor(), got.Epochs())
	}
}

// TestOpenFinishesInterruptedDestruction: a crash after the floor was written but before
// the files were removed leaves old key files behind; the next open removes them.
func TestOpenFinishesInterruptedDestruction(t *testing.T) {
	data := t.TempDir()
	k := openEpochKeys(t, data)
	for _, e := range []uint64{1, 2, 3} {
		epochRecipient(t, k, e)
	}
	if err := os.WriteFile(filepath.Join(data, EpochKeysDir, floorFile), []byte("3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k2 := openEpochKeys(t, data)
	if k2.Floor() != 3 {
		t.Fatalf("Floor() = %d, want 3", k2.Floor())
	}
	if got := k2.Epochs(); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("Epochs() = %v, want [3]", got)
	}
	for _, e := range []uint64{1, 2} {
		if exists(t, epochFile(data, e)) {
			t.Errorf("the key file of epoch %d below the floor survived the open", e)
		}
		if _, err := k2.Recipient(e); !errors.Is(err, ErrEpochDestroyed) {
			t.Errorf("Recipient(%d): %v, want ErrEpochDestroyed", e, err)
		}
	}
	if !exists(t, epochFile(data, 3)) {
		t.Fatal("the key file of epoch 3 was removed")
	}
}

func TestOpenEpochKeysRefusesDamagedStore(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string) // dir is the epoch key directory
		want   string
	}{
		{"stray file", func(t *testing.T, dir string) { write(t, filepath.Join(dir, "notes.txt"), "x", 0o600) }, "unexpected file"},
		{"leading zero", func(t *testing.T, dir string) { write(t, filepath.Join(dir, "05.age"), validAgeIdentity(t), 0o600) }, "unexpected file"},
		{"not a number", func(t *testing.T, dir string) { write(t, filepath.Join(dir, "five.age"), validAgeIdentity(t), 0o600) }, "unexpected file"},
		{"no suffix", func(t *testing.T, dir string) { write(t, filepath.Join(dir, "5"), validAgeIdentity(t), 0o600) }, "unexpected file"},
		{"world-readable key", func(t *testing.T, dir string) { chmod(t, filepath.Join(dir, "1.age"), 0o644) }, "group or others"},
		{"group-readable key", func(t *testing.T, dir string) { chmod(t, filepath.Join(dir, "1.age"), 0o640) }, "group or others"},
		{"not an identity", func(t *testing.T, dir string) { write(t, filepath.Join(dir, "9.age"), "AGE-SECRET-KEY-1NOPE", 0o600) }, "not an age X25519 identity"},
		{"key is a directory", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "9.age"), 0o700); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
		{"bad floor", func(t *testing.T, dir string) { write(t, filepath.Join(dir, floorFile), "soon\n", 0o600) }, "not an epoch number"},
		{"world-readable floor", func(t *testing.T, dir string) { write(t, filepath.Join(dir, floorFile), "1\n", 0o644) }, "group or others"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			epochRecipient(t, openEpochKeys(t, data), 1)
			tc.damage(t, filepath.Join(data, EpochKeysDir))
			k, err := OpenEpochKeys(data)
			if err == nil {
				t.Fatalf("opened a damaged store (epochs %v)", k.Epochs())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
	// Hidden files are temporary files of an interrupted write: ignored, not fatal.
	data := t.TempDir()
	epochRecipient(t, openEpochKeys(t, data), 1)
	write(t, filepath.Join(data, EpochKeysDir, ".2.age.tmp-123"), validAgeIdentity(t), 0o600)
	if got := openEpochKeys(t, data).Epochs(); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("with a temporary file present Epochs() = %v, want [1]", got)
	}
}

func TestOpenEpochKeysTightensDirectories(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, EpochKeysDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(data, keysDir), dir} {
		chmod(t, d, 0o755)
	}
	openEpochKeys(t, data)
	for _, d := range []string{filepath.Join(data, keysDir), dir} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != fs.ModeDir|0o700 {
			t.Errorf("%s has mode %v after OpenEpochKeys, want drwx------", d, fi.Mode())
		}
	}
	// A directory created from scratch is 0700 too.
	fresh := filepath.Join(t.TempDir(), "new")
	openEpochKeys(t, fresh)
	fi, err := os.Stat(filepath.Join(fresh, EpochKeysDir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != fs.ModeDir|0o700 {
		t.Errorf("new epoch key directory has mode %v, want drwx------", fi.Mode())
	}
}

func write(t *testing.T, path, content string, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	chmod(t, path, mode) // WriteFile's mode is subject to the umask
}

func chmod(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func validAgeIdentity(t *testing.T) string {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id.String() + "\n"
}
