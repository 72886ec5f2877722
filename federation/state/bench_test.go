//go:build unix

package state_test

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/crypto/seal"
	"github.com/entente/entente/federation/command"
	"github.com/entente/entente/federation/state"
	"github.com/entente/entente/policy"
)

// BenchmarkSnapshotRestore1M measures what a node pays to hand its state to a follower
// that is too far behind for the log: a state of 1,000,000 watchlist entries, each put
// there by a real signed Nominate (party and rationale sealed REL TO FEDERATION, basis
// PUBLIC, as node.Nominate builds them) applied through State.ApplyBatch.
//
// One operation is one snapshot and one restore:
//
//   - snapshot-s: State.BeginSnapshot, Snap.WriteTo into a file through the same writer
//     stack as raft's file snapshot sink (a Write-only writer over a 4 KiB bufio.Writer
//     over the file and a CRC-64), then fsync;
//   - restore-s: State.Restore of that file, read through a bufio.Reader as raft's file
//     snapshot store hands it to the FSM, into a freshly opened State of the same genesis;
//   - file-MB: the size of the snapshot, which is the state file up to its last
//     allocated page, free pages included;
//   - peak-heap-MB: the highest runtime HeapInuse sampled every 5 ms during the restore;
//   - maxrss-MB: the process's peak resident set during the restore: the Linux
//     high-water mark is reset (/proc/self/clear_refs) just before it and read with
//     getrusage just after, with the source state already closed. It counts the file
//     pages bbolt maps and touches, not only the heap. Where the reset is not possible
//     it is the process's lifetime peak, which the log says.
//
// The target is a restore under 30 s. The first iteration also checks the
// restored state's Applied() and Hash() against the built state's. The log gives two
// reference times: opening the source state (bbolt rebuilds its freelist by walking
// every page, as each open in Restore does) and copying the snapshot file through the
// same reader with an fsync (the floor for Restore). ns/op covers all of it, the checks
// included; the figures above are what count.
//
// Building the state takes about four minutes on two cores (one Ed25519 signature and
// one verification per entry, among the rest), so it is built once and kept in
// $TMPDIR/entente-bench-state1m-<key>, where the key hashes the entry count, this
// builder's version and the non-test sources of federation/state and federation/command:
// any change to how commands are encoded or applied builds it again, and older copies
// are removed. The building is not timed. The cache takes 4.3 GB, and a run up to three
// times as much again in its temporary directory. Run it with -benchtime 1x (one
// operation per run) and a generous -timeout; the first run builds:
//
//	go test -run '^$' -bench SnapshotRestore1M -benchtime 1x -count 5 -timeout 60m ./federation/state/
func BenchmarkSnapshotRestore1M(b *testing.B) {
	built := benchState(b, benchEntries1M)
	b.ResetTimer()
	var sum srMeasure
	for i := 0; i < b.N; i++ {
		m := benchSnapshotRestore(b, built, i == 0)
		sum.snapshot += m.snapshot
		sum.restore += m.restore
		sum.fileBytes += m.fileBytes
		sum.peakHeap = max(sum.peakHeap, m.peakHeap)
		sum.maxRSS = max(sum.maxRSS, m.maxRSS)
	}
	n := float64(b.N)
	b.ReportMetric(sum.snapshot.Seconds()/n, "snapshot-s")
	b.ReportMetric(sum.restore.Seconds()/n, "restore-s")
	b.ReportMetric(float64(sum.fileBytes)/n/1e6, "file-MB")
	b.ReportMetric(float64(sum.peakHeap)/1e6, "peak-heap-MB")
	b.ReportMetric(float64(sum.maxRSS)/1e6, "maxrss-MB")
}

// TestSnapshotRestoreRoundTrip is the benchmark's procedure on 2,000 entries built from
// scratch: the restored state has the same applied index and the same hash.
func TestSnapshotRestoreRoundTrip(t *testing.T) {
	const n = 2000
	f := newBenchFed(t, n)
	dir := t.TempDir()
	src, err := state.Open(filepath.Join(dir, "state.db"), f.genesis)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.build(src, n, nil); err != nil {
		src.Close()
		t.Fatal(err)
	}
	applied := src.Applied()
	hash, err := src.Hash()
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	if applied != n {
		t.Fatalf("built state has applied %d, want %d", applied, n)
	}
	m := benchSnapshotRestore(t, &builtState{dir: dir, genesis: f.genesis, info: builtInfo{Entries: n, Applied: applied, Hash: hash}}, true)
	if m.fileBytes == 0 || m.restore <= 0 {
		t.Fatalf("implausible measurement %+v", m)
	}
}

const (
	// benchEntries1M is how many watchlist entries BenchmarkSnapshotRestore1M's state holds.
	benchEntries1M = 1_000_000
	// benchBuilderVersion is part of the cache key; change it when the builder changes
	// what it proposes.
	benchBuilderVersion = "nominate-sealed/v1"
	// benchBatch is how many entries one ApplyBatch call applies while building.
	benchBatch = 2048
	// benchCachePrefix names the cache directories under os.TempDir.
	benchCachePrefix = "entente-bench-state1m-"
)

// srMeasure is one snapshot and restore.
type srMeasure struct {
	snapshot, restore time.Duration
	fileBytes         int64
	peakHeap          uint64 // bytes
	maxRSS            int64  // bytes
}

// builtInfo describes a built state; it is stored beside the cached state file.
type builtInfo struct {
	Entries      int     `json:"entries"`
	Applied      uint64  `json:"applied"`
	Hash         string  `json:"hash"`
	GenesisHash  string  `json:"genesis_hash"`
	BuildSeconds float64 `json:"build_seconds"`
}

// builtState is a state file with the genesis that founded it.
type builtState struct {
	dir     string // holds state.db
	genesis *state.Genesis
	info    builtInfo
}

// benchSnapshotRestore snapshots the state in built.dir to a file, closes it, restores
// the file into a new State and measures both; check compares the result with built.info.
func benchSnapshotRestore(tb testing.TB, built *builtState, check bool) srMeasure {
	tb.Helper()
	var m srMeasure
	work := tb.TempDir()
	snapPath := filepath.Join(work, "snapshot")

	start := time.Now()
	src, err := state.Open(filepath.Join(built.dir, "state.db"), built.genesis)
	if err != nil {
		tb.Fatal(err)
	}
	opened := time.Since(start)
	if got := src.Applied(); got != built.info.Applied {
		src.Close()
		tb.Fatalf("the state to snapshot has applied %d, its record says %d", got, built.info.Applied)
	}
	start = time.Now()
	m.fileBytes, err = writeSnapshot(src, snapPath)
	m.snapshot = time.Since(start)
	if cerr := src.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatal(err)
	}

	dst, err := state.Open(filepath.Join(work, "restored.db"), built.genesis)
	if err != nil {
		tb.Fatal(err)
	}
	defer dst.Close()
	sf, err := os.Open(snapPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer sf.Close()
	// raft's file snapshot store hands the FSM a reader that is neither an *os.File nor
	// a WriterTo, so the copy into the state goes through user space, as here.
	rd := struct{ io.Reader }{bufio.NewReader(sf)}

	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	rssBefore := maxRSSBytes()
	sampler := startHeapSampler(5 * time.Millisecond)
	start = time.Now()
	err = dst.Restore(rd)
	m.restore = time.Since(start)
	m.peakHeap = sampler.stop()
	m.maxRSS = maxRSSBytes()
	if err != nil {
		tb.Fatal(err)
	}
	if !resetPeakRSS {
		tb.Logf("could not reset the peak RSS; maxrss-MB is the process's lifetime peak")
	}
	// For reference: what the restore's copy alone costs, through the same reader.
	copied, err := copyFile(snapPath, filepath.Join(work, "copy"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("entries=%d snapshot=%s restore=%s file=%.1f MB peak HeapInuse=%.1f MB peak RSS %.1f MB (%.1f MB before the restore); "+
		"for reference: opening the source state took %s, copying the snapshot and fsyncing it %s",
		built.info.Entries, m.snapshot.Round(time.Millisecond), m.restore.Round(time.Millisecond),
		float64(m.fileBytes)/1e6, float64(m.peakHeap)/1e6, float64(m.maxRSS)/1e6, float64(rssBefore)/1e6,
		opened.Round(time.Millisecond), copied.Round(time.Millisecond))

	if check {
		if got := dst.Applied(); got != built.info.Applied {
			tb.Fatalf("restored state has applied %d, want %d", got, built.info.Applied)
		}
		h, err := dst.Hash()
		if err != nil {
			tb.Fatal(err)
		}
		if h != built.info.Hash {
			tb.Fatalf("restored state's hash %s differs from the snapshotted state's %s", h, built.info.Hash)
		}
	}
	sf.Close()
	_ = os.Remove(snapPath) // b.N > 1 would otherwise keep one copy per iteration
	return m
}

// writeSnapshot writes src's snapshot to path as FSM.Persist does into raft's file
// snapshot sink (a plain Write over a bufio.Writer over the file and a CRC-64) and
// fsyncs it; it returns the bytes written.
func writeSnapshot(src *state.State, path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	snap, err := src.BeginSnapshot()
	if err != nil {
		return 0, err
	}
	defer snap.Release()
	w := bufio.NewWriter(io.MultiWriter(f, crc64.New(crc64.MakeTable(crc64.ECMA))))
	// raft's sink has only Write, so bbolt's copy goes through io.Copy's 32 KiB buffer,
	// not through bufio.Writer.ReadFrom's 4 KiB one: hide ReadFrom as the sink does.
	n, err := snap.WriteTo(struct{ io.Writer }{w})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// copyFile copies from to a new file to through a bufio.Reader, as Restore reads a
// snapshot from raft, fsyncs it, removes it again and returns how long that took.
func copyFile(from, to string) (time.Duration, error) {
	start := time.Now()
	src, err := os.Open(from)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer os.Remove(to)
	_, err = io.Copy(dst, struct{ io.Reader }{bufio.NewReader(src)})
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return time.Since(start), err
}

// heapSampler records the highest HeapInuse seen until stopped.
type heapSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

func startHeapSampler(every time.Duration) *heapSampler {
	s := &heapSampler{done: make(chan struct{})}
	s.sample()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *heapSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.peak = max(s.peak, ms.HeapInuse)
}

// stop ends the sampling, takes a last sample and returns the peak in bytes.
func (s *heapSampler) stop() uint64 {
	close(s.done)
	s.wg.Wait()
	s.sample()
	return s.peak
}

// maxRSSBytes is the process's peak resident set size (getrusage), in bytes.
func maxRSSBytes() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) // bytes there, KiB on Linux and the BSDs
	}
	return int64(ru.Maxrss) * 1024
}

// benchState returns the state of n entries from the cache under os.TempDir, building
// it there first when it is missing or was built from other sources.
func benchState(b *testing.B, n int) *builtState {
	b.Helper()
	key, err := benchCacheKey(n)
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(os.TempDir(), benchCachePrefix+key)
	if built, err := loadBuilt(dir); err == nil && built.info.Entries == n {
		b.Logf("using the state of %d entries cached in %s (built in %.0f s)", n, dir, built.info.BuildSeconds)
		return built
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		b.Logf("building the cached state in %s again: %v", dir, err)
	}
	removeCaches(b)
	tmp, err := os.MkdirTemp(os.TempDir(), benchCachePrefix+key+".building-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed into place
	b.Logf("building a state of %d entries in %s (one signed Nominate each; a few minutes)", n, tmp)
	f := newBenchFed(b, n)
	st, err := state.Open(filepath.Join(tmp, "state.db"), f.genesis)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	logged := 0
	err = f.build(st, n, func(done int) {
		if done/100_000 != logged/100_000 {
			b.Logf("built %d entries in %s", done, time.Since(start).Round(time.Second))
			logged = done
		}
	})
	info := builtInfo{Entries: n, Applied: st.Applied(), GenesisHash: f.genesis.Hash(), BuildSeconds: time.Since(start).Seconds()}
	if err == nil {
		info.Hash, err = st.Hash()
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	gb, _ := json.Marshal(f.genesis)
	ib, _ := json.Marshal(info)
	if err := os.WriteFile(filepath.Join(tmp, "genesis.json"), gb, 0o600); err != nil {
		b.Fatal(err)
	}
	// built.json last: its presence marks a complete build.
	if err := os.WriteFile(filepath.Join(tmp, "built.json"), ib, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another run finished the same build first: use its copy.
		if built, lerr := loadBuilt(dir); lerr == nil {
			return built
		}
		b.Fatal(err)
	}
	b.Logf("built %d entries in %.0f s: cached in %s", n, info.BuildSeconds, dir)
	return &builtState{dir: dir, genesis: f.genesis, info: info}
}

// loadBuilt reads a cached state's record and genesis.
func loadBuilt(dir string) (*builtState, error) {
	ib, err := os.ReadFile(filepath.Join(dir, "built.json"))
	if err != nil {
		return nil, err
	}
	gb, err := os.ReadFile(filepath.Join(dir, "genesis.json"))
	if err != nil {
		return nil, err
	}
	built := &builtState{dir: dir, genesis: &state.Genesis{}}
	if err := json.Unmarshal(ib, &built.info); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(gb, built.genesis); err != nil {
		return nil, err
	}
	if built.genesis.Hash() != built.info.GenesisHash {
		return nil, errors.New("genesis.json does not read back to the genesis the state was built from")
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db")); err != nil {
		return nil, err
	}
	return built, nil
}

// removeCaches deletes every cached state before a build: those built from other
// sources, an incomplete one under the current key, interrupted builds. Each takes
// gigabytes. (Two runs building at the same time would remove each other's work.)
func removeCaches(tb testing.TB) {
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), benchCachePrefix+"*"))
	for _, p := range old {
		tb.Logf("removing the stale benchmark state %s", p)
		_ = os.RemoveAll(p)
	}
}

// benchCacheKey hashes what the built state depends on: the entry count, the builder's
// version and the non-test Go sources of federation/state and federation/command (a test
// runs in its package's directory).
func benchCacheKey(n int) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00", benchBuilderVersion, n)
	for _, dir := range []string{".", filepath.Join("..", "command")} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			return "", err
		}
		slices.Sort(files)
		for _, p := range files {
			if strings.HasSuffix(p, "_test.go") {
				continue
			}
			src, err := os.ReadFile(p)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(p), len(src))
			h.Write(src)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// benchFed is a federation like the state tests' (FRA, DEU and GBR vote, ITA is a
// member, CAN observes) under the default policy, with what each member needs to
// propose sealed nominations: its signing key and a keyring whose data key for the
// epoch is created up front and travels with that member's first nomination.
type benchFed struct {
	genesis *state.Genesis
	signers map[string]*jws.Signer
	rings   map[string]*seal.Keyring
	keys    map[string]seal.WrappedKey // each origin's data key for the epoch
	to      []string                   // REL TO FEDERATION's recipients
	origins []string                   // the members that nominate, in turn
	start   time.Time
	epoch   uint64
}

// benchDirectory gives each state's epoch recipient: data keys are never wrapped to a
// state's long-term identity (DESIGN.md).
type benchDirectory map[string]age.Recipient

func (d benchDirectory) Recipient(code string) (age.Recipient, error) {
	if r, ok := d[code]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("no epoch recipient for %s", code)
}

// newBenchFed makes the federation; n is how many nominations it will be asked for (one
// a millisecond of stamped time), which must all fall into one key epoch.
func newBenchFed(tb testing.TB, n int) *benchFed {
	tb.Helper()
	pol := policy.DefaultPolicy()
	f := &benchFed{
		genesis: &state.Genesis{Federation: "bench", Policy: pol},
		signers: map[string]*jws.Signer{},
		rings:   map[string]*seal.Keyring{},
		keys:    map[string]seal.WrappedKey{},
		start:   time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC),
	}
	f.epoch = pol.Epoch(f.start)
	if pol.Epoch(f.stamp(n)) != f.epoch {
		tb.Fatalf("%d nominations a millisecond apart from %s cross a key epoch", n, f.start)
	}
	members := []struct {
		code string
		role policy.MemberRole
	}{{"CAN", policy.RoleObserver}, {"DEU", policy.RoleVoter}, {"FRA", policy.RoleVoter}, {"GBR", policy.RoleVoter}, {"ITA", policy.RoleMember}}
	epochIDs := map[string]*age.X25519Identity{}
	dir := benchDirectory{}
	for i, m := range members {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		s := jws.NewSigner(priv)
		ks := jws.NewKeySet()
		ks.Add(s.Public())
		kb, err := ks.MarshalJSON()
		if err != nil {
			tb.Fatal(err)
		}
		longTerm, err := age.GenerateX25519Identity()
		if err != nil {
			tb.Fatal(err)
		}
		if epochIDs[m.code], err = age.GenerateX25519Identity(); err != nil {
			tb.Fatal(err)
		}
		dir[m.code] = epochIDs[m.code].Recipient()
		f.signers[m.code] = s
		f.genesis.Members = append(f.genesis.Members, state.Member{
			Code: m.code, Role: m.role, SigningKeys: kb, AgeRecipient: longTerm.Recipient().String(),
			TLSPin: "sha256:" + m.code, RaftAddr: fmt.Sprintf("127.0.0.1:%d", 7001+2*i), GossipAddr: fmt.Sprintf("127.0.0.1:%d", 7002+2*i),
			APIURL: "https://" + strings.ToLower(m.code) + ".example:8443"})
		f.to = append(f.to, m.code)
		if m.role != policy.RoleObserver {
			f.origins = append(f.origins, m.code)
		}
	}
	for _, code := range f.origins {
		store := seal.NewMemStore()
		ring, err := seal.NewKeyring(code, epochIDs[code], dir, store)
		if err != nil {
			tb.Fatal(err)
		}
		// The first Seal creates the epoch's key; every later one reuses it.
		if _, err := ring.Seal("watchlist/warm-up", "fields.party", "REL TO FEDERATION", f.to, f.epoch, []byte(`{}`)); err != nil {
			tb.Fatal(err)
		}
		ks, err := store.ListKeys()
		if err != nil || len(ks) != 1 {
			tb.Fatalf("%s's keyring holds %d keys (%v), want 1", code, len(ks), err)
		}
		f.rings[code], f.keys[code] = ring, ks[0]
	}
	return f
}

func (f *benchFed) stamp(i int) time.Time { return f.start.Add(time.Duration(i) * time.Millisecond) }

var benchIDEncoding = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// entry returns the framed, signed log entry of the i-th nomination (log index i+1).
// Ids look like node.Nominate's (origin, "-N-", 10 random-looking bytes), so they reach
// the entries bucket in no particular order, as real ones do.
func (f *benchFed) entry(i int) ([]byte, error) {
	origin := f.origins[i%len(f.origins)]
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i))
	sum := sha256.Sum256(seed[:])
	id := origin + "-N-" + benchIDEncoding.EncodeToString(sum[:10])
	subject := "watchlist/" + id
	ring := f.rings[origin]
	party := fmt.Sprintf(`{"type":"organisation","name":"Trading Company %07d FZE","aliases":["TC %d General Trading"],`+
		`"addresses":[{"street":"Warehouse %d, Jebel Ali Free Zone South","city":"Dubai","country":"ARE"}],"countries":["ARE"]}`, i, i, i%9973)
	rationale := fmt.Sprintf(`"Procured controlled items for a listed end user through intermediaries; licence refusal %s-%07d."`, origin, i)
	key := subjectKeyFor(f.keys[origin], i, subject)
	sealed := func(field, value string) (command.Field, error) {
		s, err := ring.Seal(subject, "fields."+field, "REL TO FEDERATION", f.to, f.epoch, []byte(value))
		if err != nil {
			return command.Field{}, err
		}
		s.Key = key.ID
		return command.Field{Marking: "REL TO FEDERATION", Sealed: &s}, nil
	}
	p := &command.Nominate{ID: id, Kind: "denied-party", Fields: map[string]command.Field{
		"basis": {Marking: "PUBLIC", Plain: json.RawMessage(`{"regime":"national","control_codes":["3A001","5A002"]}`)}}}
	var err error
	if p.Fields["party"], err = sealed("party", party); err != nil {
		return nil, err
	}
	if p.Fields["rationale"], err = sealed("rationale", rationale); err != nil {
		return nil, err
	}
	p.Keys = []seal.WrappedKey{key}
	c, err := command.New(origin, p)
	if err != nil {
		return nil, err
	}
	if err := c.Sign(f.signers[origin]); err != nil {
		return nil, err
	}
	raw, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	return command.MarshalEntry(command.Entry{Stamp: f.stamp(i).UnixNano(), Command: raw}), nil
}

// batch returns nominations [from, to) as committed entries, signed on every core.
func (f *benchFed) batch(from, to int) ([]state.Committed, error) {
	out := make([]state.Committed, to-from)
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := from + w; i < to; i += workers {
				data, err := f.entry(i)
				if err != nil {
					errs[w] = err
					return
				}
				out[i-from] = state.Committed{Index: uint64(i) + 1, Data: data}
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// build applies nominations 0..n-1 to st through ApplyBatch, benchBatch at a time,
// signing the next batch while the current one applies; every one must be accepted.
// progress, if set, is called after each batch with the number applied so far.
func (f *benchFed) build(st *state.State, n int, progress func(done int)) error {
	type batch struct {
		entries []state.Committed
		err     error
	}
	ch := make(chan batch, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(ch)
		for from := 0; from < n; from += benchBatch {
			es, err := f.batch(from, min(from+benchBatch, n))
			select {
			case ch <- batch{es, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	done := 0
	for bt := range ch {
		if bt.err != nil {
			return bt.err
		}
		for _, r := range st.ApplyBatch(bt.entries) {
			if r.Rejected != "" || r.Skipped {
				return fmt.Errorf("nomination at index %d: rejected %q, skipped %t", r.Index, r.Rejected, r.Skipped)
			}
		}
		done += len(bt.entries)
		if progress != nil {
			progress(done)
		}
	}
	if done != n {
		return fmt.Errorf("built %d of %d entries", done, n)
	}
	return nil
}

// subjectKeyFor gives subject i its own subject key, as nodes do. Wrapping a fresh data
// key with age for each of a million subjects would dominate the set-up, and apply never
// opens keys, so the template's wrapped bytes are reused under a distinct id: the key is
// as large as a real one.
func subjectKeyFor(tmpl seal.WrappedKey, i int, subject string) seal.WrappedKey {
	w := tmpl
	var seed [9]byte
	seed[0] = 'k'
	binary.BigEndian.PutUint64(seed[1:], uint64(i))
	sum := sha256.Sum256(seed[:])
	w.ID = "k1" + base64.RawURLEncoding.EncodeToString(sum[:16])
	w.Subject = subject
	w.Epochs = make([]uint64, len(w.Recipients))
	for j := range w.Epochs {
		w.Epochs[j] = w.Epoch
	}
	return w
}
