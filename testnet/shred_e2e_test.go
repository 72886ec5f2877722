package testnet_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/crypto/seal"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/policy"
	"github.com/entente/entente/testnet"
)

// TestRetentionShredsAcrossTheFederation proves crypto-shredding on real node processes:
// an indicator whose retention ends is purged, and afterwards no key that any node still
// holds opens its evidence from any byte of any node's data directory (raft log, bbolt
// files and their free pages, snapshots, key stores). A listing that outlives its first
// key epoch stays readable, because its originator rewraps its key, and the same scan
// opens it: the scan is able to find and open what is still retained.
func TestRetentionShredsAcrossTheFederation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a federation and waits for key epochs to close")
	}
	pol := testnet.DemoPolicy()
	pol.Voting.Consultation = policy.Duration(3 * time.Second)
	pol.KeyEpoch = policy.Duration(2 * time.Second)
	pol.Retention["indicator"] = policy.Duration(2 * time.Second)
	pol.Retention["denied-party"] = policy.Duration(3 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	net, err := testnet.Up(ctx, testnet.Options{Dir: t.TempDir(), Nodes: 3, FreePorts: true, Policy: &pol, Heartbeat: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range net.Nodes {
				t.Logf("---- %s ----\n%s", n.State, lastLines(n.Logs(), 40))
			}
		}
		if !stopped {
			_ = net.Down(20 * time.Second)
		}
	})

	shredCanary := "SHRED-CANARY-" + randomTag(t)
	keepCanary := "KEEP-CANARY-" + randomTag(t)

	// A listing that must outlive the key epoch it was first sealed for.
	keepID := "N-KEEP-1"
	party, _ := json.Marshal(map[string]any{"type": "organisation", "name": keepCanary + " Trading", "countries": []string{"IRN"}})
	nom := api.NominationRequest{ID: keepID, Kind: "denied-party", Party: party, Basis: api.Basis{Regime: "national", ControlCodes: []string{"ML4"}}}
	if err := call(t, net, 0, "officer", "POST", "/v1/watchlist/nominations", nom, nil); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 3; i++ {
		if err := call(t, net, i, "officer", "POST", "/v1/watchlist/"+keepID+"/votes", api.VoteRequest{Position: "endorse", Reason: "corroborated by customs"}, nil); err != nil {
			t.Fatal(err)
		}
	}

	// An indicator whose retention ends during the test.
	shredID := "I-SHRED-1"
	validUntil := time.Now().Add(3 * time.Second).Truncate(time.Second).Add(time.Second)
	ind := api.IndicatorRequest{ID: shredID, Kind: "diversion", Subject: "IRN", SubjectMarking: "PUBLIC", Severity: 4,
		Evidence: shredCanary + " consignment re-routed via a free zone", ValidUntil: validUntil}
	if err := call(t, net, 0, "officer", "POST", "/v1/indicators", ind, nil); err != nil {
		t.Fatal(err)
	}
	// Released to the federation, so another state opens it while it is retained.
	eventually(t, 20*time.Second, "DEU to read the indicator's evidence", func() (bool, string) {
		var out struct {
			Indicators []api.IndicatorView `json:"indicators"`
		}
		if err := call(t, net, 1, "analyst", "GET", "/v1/indicators", nil, &out); err != nil {
			return false, err.Error()
		}
		for _, in := range out.Indicators {
			if in.ID == shredID {
				return strings.Contains(string(in.Evidence.Value), shredCanary), fmt.Sprintf("evidence %+v", in.Evidence)
			}
		}
		return false, "not yet replicated"
	})

	// The indicator expires and is purged on every node; its key epoch then closes.
	for i := range net.Nodes {
		eventually(t, 30*time.Second, "the indicator purged on "+net.Nodes[i].State, func() (bool, string) {
			var out struct {
				Indicators []api.IndicatorView `json:"indicators"`
			}
			if err := call(t, net, i, "analyst", "GET", "/v1/indicators", nil, &out); err != nil {
				return false, err.Error()
			}
			for _, in := range out.Indicators {
				if in.ID == shredID {
					return false, in.Status
				}
			}
			return true, ""
		})
	}
	// Which epochs the keys are wrapped to is read from the raw files themselves: a state
	// that published late is reached at a later epoch than the subject's target.
	running := snapshotFiles(t, net)
	shredKeys := keyIDs(sealedNear(running, `"id":"`+shredID+`"`, `"evidence":`))
	keepKeys := keyIDs(sealedNear(running, `"id":"`+keepID+`"`, `"party":`))
	if len(shredKeys) == 0 || len(keepKeys) == 0 {
		t.Fatalf("sealed fields not found on disk: %d keys of the indicator, %d of the listing", len(shredKeys), len(keepKeys))
	}
	var until uint64
	for _, id := range shredKeys {
		ws := wrappingEpochs(running, id)
		if len(ws) == 0 {
			t.Fatalf("key %s of the purged indicator not found on disk", id)
		}
		for _, eps := range ws {
			until = max(until, slices.Max(eps))
		}
	}
	for _, id := range keepKeys {
		first := uint64(math.MaxUint64) // the first wrapping: the one with the earliest epochs
		for _, eps := range wrappingEpochs(running, id) {
			first = min(first, slices.Max(eps))
		}
		until = max(until, first)
	}
	for _, n := range net.Nodes {
		eventually(t, 30*time.Second, "key epochs up to "+strconv.FormatUint(until, 10)+" destroyed on "+n.State, func() (bool, string) {
			k, err := identity.OpenEpochKeys(n.DataDir)
			if err != nil {
				return false, err.Error()
			}
			return k.Floor() > until, fmt.Sprintf("floor %d", k.Floor())
		})
	}
	// The listing is still readable everywhere: its keys were rewrapped in time.
	for i := range net.Nodes {
		eventually(t, 20*time.Second, "the listing readable on "+net.Nodes[i].State, func() (bool, string) {
			e, err := entryOn(t, net, i, keepID)
			if err != nil {
				return false, err.Error()
			}
			return strings.Contains(string(e.Fields["party"].Value), keepCanary), fmt.Sprintf("%s, party %+v", e.Status, e.Fields["party"])
		})
	}
	if err := net.Down(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	stopped = true

	// Read every byte of every data directory, and every key each node still holds.
	var files [][]byte
	var ids []age.Identity
	for _, n := range net.Nodes {
		fs, err := readTree(n.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, fs...)
		held, err := heldIdentities(n.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, held...)
		for _, enc := range encodings(shredCanary) {
			for _, b := range fs {
				if bytes.Contains(b, []byte(enc)) {
					t.Fatalf("%s's data directory holds the retained-then-purged canary in clear (%q)", n.State, enc)
				}
			}
		}
		if strings.Contains(n.Logs(), shredCanary) {
			t.Fatalf("%s logged the canary", n.State)
		}
	}
	dataKeys := unwrapAll(files, ids)
	if len(dataKeys) == 0 {
		t.Fatal("no wrapped data key on disk opens with any held identity: the scan finds nothing")
	}

	shredCTs := sealedNear(files, `"id":"`+shredID+`"`, `"evidence":`)
	if len(shredCTs) == 0 {
		t.Fatal("the purged indicator's sealed evidence is not on disk at all (the raft log should still hold it): the test would prove nothing")
	}
	for _, s := range shredCTs {
		for _, k := range dataKeys {
			if pt, err := seal.OpenWithKey(k, s, "indicator/"+shredID, "evidence"); err == nil {
				t.Fatalf("the purged evidence opened from raw files with a key a node still holds: %q", pt)
			}
		}
	}

	keepCTs := sealedNear(files, `"id":"`+keepID+`"`, `"party":`)
	opened := false
	for _, s := range keepCTs {
		for _, k := range dataKeys {
			if pt, err := seal.OpenWithKey(k, s, "watchlist/"+keepID, "fields.party"); err == nil && bytes.Contains(pt, []byte(keepCanary)) {
				opened = true
			}
		}
	}
	if !opened {
		t.Fatalf("the retained listing did not open from raw files (%d ciphertexts, %d data keys): the scan cannot tell shredded from unreadable", len(keepCTs), len(dataKeys))
	}
	t.Logf("scanned %d files; %d data keys recoverable with held identities; purged evidence found %d times, opened 0 times", len(files), len(dataKeys), len(shredCTs))
}

func snapshotFiles(t *testing.T, net *testnet.Net) [][]byte {
	t.Helper()
	var out [][]byte
	for _, n := range net.Nodes {
		fs, err := readTree(n.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fs...)
	}
	return out
}

func keyIDs(ss []seal.Sealed) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s.Key) {
			out = append(out, s.Key)
		}
	}
	return out
}

var epochsRE = regexp.MustCompile(`"epochs":\[([0-9,]+)\]`)

// wrappingEpochs returns, for each wrapped form of key id found in files, the epochs it
// is wrapped to.
func wrappingEpochs(files [][]byte, id string) [][]uint64 {
	var out [][]uint64
	anchor := []byte(`"id":"` + id + `","recipients"`)
	for _, b := range files {
		for off := 0; ; {
			i := bytes.Index(b[off:], anchor)
			if i < 0 {
				break
			}
			start := off + i
			if m := epochsRE.FindSubmatch(b[start:min(len(b), start+8<<10)]); m != nil {
				var eps []uint64
				for _, f := range strings.Split(string(m[1]), ",") {
					if e, err := strconv.ParseUint(f, 10, 64); err == nil {
						eps = append(eps, e)
					}
				}
				if len(eps) > 0 {
					out = append(out, eps)
				}
			}
			off = start + len(anchor)
		}
	}
	return out
}

func randomTag(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// readTree returns the content of every regular file under dir.
func readTree(dir string) ([][]byte, error) {
	var out [][]byte
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		out = append(out, b)
		return err
	})
	return out, err
}

// heldIdentities is every age identity a node's data directory still holds: its
// long-term identity and the epoch identities not yet destroyed.
func heldIdentities(dir string) ([]age.Identity, error) {
	b, err := os.ReadFile(filepath.Join(dir, "keys", "age.key"))
	if err != nil {
		return nil, err
	}
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	ek, err := identity.OpenEpochKeys(dir)
	if err != nil {
		return nil, err
	}
	return append(ids, ek.Identities()...), nil
}

var wrappedRE = regexp.MustCompile(`"wrapped":"([A-Za-z0-9+/=]{40,})"`)

// unwrapAll returns every 32-byte data key that any wrapped key found anywhere in files
// yields to any of ids.
func unwrapAll(files [][]byte, ids []age.Identity) [][]byte {
	seen := map[string]bool{}
	var out [][]byte
	for _, b := range files {
		for _, m := range wrappedRE.FindAllSubmatch(b, -1) {
			if seen[string(m[1])] {
				continue
			}
			seen[string(m[1])] = true
			w, err := base64.StdEncoding.DecodeString(string(m[1]))
			if err != nil {
				continue
			}
			r, err := age.Decrypt(bytes.NewReader(w), ids...)
			if err != nil {
				continue
			}
			if k, err := io.ReadAll(r); err == nil && len(k) == 32 {
				out = append(out, k)
			}
		}
	}
	return out
}

var sealedRE = regexp.MustCompile(`"sealed":\{"v":(\d+),"marking":"([^"]{1,200})","key":"(k1[A-Za-z0-9_-]{22})","ct":"([A-Za-z0-9+/=]+)"\}`)

// sealedNear finds, after each occurrence of anchor in files, the sealed value that
// follows field within the same JSON object's reach.
func sealedNear(files [][]byte, anchor, field string) []seal.Sealed {
	var out []seal.Sealed
	for _, b := range files {
		for off := 0; ; {
			i := bytes.Index(b[off:], []byte(anchor))
			if i < 0 {
				break
			}
			start := off + i
			window := b[start:min(len(b), start+16<<10)]
			if j := bytes.Index(window, []byte(field)); j >= 0 {
				if m := sealedRE.FindSubmatch(window[j:]); m != nil {
					v, _ := strconv.Atoi(string(m[1]))
					ct, err := base64.StdEncoding.DecodeString(string(m[4]))
					if err == nil {
						out = append(out, seal.Sealed{V: v, Marking: string(m[2]), Key: string(m[3]), CT: ct})
					}
				}
			}
			off = start + len(anchor)
		}
	}
	return out
}
