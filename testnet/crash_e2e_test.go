package testnet_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/client"
)

// TestCrashConsistency kills node processes with SIGKILL, over and over, while clients
// write national records and nominations to every node, and restarts each at once. Raft
// snapshots every 16 entries and checks for one every 200 ms, so kills land during bbolt
// commits, raft log appends and snapshot writes alike. Every restart must be clean (the
// node is ready again within the deadline, its audit chain intact, no panic in its log),
// and afterwards every acknowledged write must be present: each national record on its
// own node with its content, each nomination on every node, with one state hash.
func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts real node processes in a loop")
	}
	const kills = 10
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	net := upFed(t, 3, "--raft-snapshot-threshold", "16", "--raft-trailing-logs", "8", "--raft-snapshot-interval", "200ms")
	if _, err := net.WaitLeader(context.Background()); err != nil {
		t.Fatal(err)
	}

	type ack struct {
		node int
		id   string
	}
	var (
		mu          sync.Mutex
		records     []ack
		nominations []string
		unknown     int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			node := w % len(net.Nodes)
			for i := 0; i < 3000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Client(node, "officer")
				if err != nil {
					t.Error(err)
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				var id string
				if i%2 == 0 {
					id = fmt.Sprintf("%s-C%d-%d", net.Nodes[node].State, w, i)
					// end_user is released to DEU, a member of the federation: sealed to
					// the replicated roster, not the node's roster file.
					_, err = c.Do(ctx, "POST", "/v1/records", licence(id, "Crashproof"+id), nil)
				} else {
					id = fmt.Sprintf("CRASH-%d-%d", w, i)
					err = c.JSON(ctx, "POST", "/v1/watchlist/nominations", nomination(id, "Crash Test "+id, "REL TO FEDERATION"), nil)
				}
				cancel()
				c.CloseIdle()
				mu.Lock()
				switch {
				case err == nil && i%2 == 0:
					records = append(records, ack{node, id})
				case err == nil:
					nominations = append(nominations, id)
				default:
					var ae *client.APIError
					if !errors.As(err, &ae) || ae.Status >= 500 {
						unknown++ // the node went away or the outcome was lost: not acknowledged
					} else if ae.Status != 400 || ae.Code != "rejected" {
						t.Errorf("write %s on %s: %v", id, net.Nodes[node].State, err)
					}
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(100 * time.Millisecond)
				}
			}
		}(w)
	}

	midSnapshot := 0
	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(300+rng.Intn(900)) * time.Millisecond)
		victim := rng.Intn(len(net.Nodes))
		if k%2 == 0 {
			if l, err := net.WaitLeader(context.Background()); err == nil {
				victim = l
			}
		}
		n := net.Nodes[victim]
		if err := n.Kill(); err != nil {
			t.Fatalf("kill %d of %s: %v", k+1, n.State, err)
		}
		// A snapshot raft had begun but not finished is left as a .tmp directory.
		if tmp, _ := filepath.Glob(filepath.Join(n.DataDir, "federation", "snapshots", "snapshots", "*.tmp")); len(tmp) > 0 {
			midSnapshot++
		}
		time.Sleep(time.Duration(rng.Intn(500)) * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := n.Restart(ctx)
		cancel()
		if err != nil {
			t.Fatalf("restart %d of %s after SIGKILL was not clean: %v\n%s", k+1, n.State, err, lastLines(n.Logs(), 40))
		}
		t.Logf("kill %d: %s killed and restarted", k+1, n.State)
	}
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}
	converged(t, net)

	for i, n := range net.Nodes {
		if strings.Contains(n.Logs(), "panic:") {
			t.Fatalf("%s panicked:\n%s", n.State, lastLines(n.Logs(), 60))
		}
		var st api.AuditStatus
		if err := call(t, net, i, "auditor", "GET", "/v1/audit/verify", nil, &st); err != nil || !st.OK {
			t.Fatalf("%s's audit chain after %d kills: %+v %v", n.State, kills, st, err)
		}
	}
	for _, r := range records {
		var rec api.RecordView
		if err := call(t, net, r.node, "officer", "GET", "/v1/records/"+r.id, nil, &rec); err != nil {
			t.Fatalf("acknowledged record %s lost on %s: %v", r.id, net.Nodes[r.node].State, err)
		}
		if !strings.Contains(string(rec.Fields["applicant"].Value), "Crashproof"+r.id) {
			t.Fatalf("record %s on %s came back with other content: %s", r.id, net.Nodes[r.node].State, rec.Fields["applicant"].Value)
		}
	}
	for i, n := range net.Nodes {
		var out struct {
			Entries []api.WatchlistEntry `json:"entries"`
		}
		if err := call(t, net, i, "analyst", "GET", "/v1/watchlist?consistency=linearizable", nil, &out); err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, e := range out.Entries {
			have[e.ID] = true
		}
		for _, id := range nominations {
			if !have[id] {
				t.Fatalf("%s lost the acknowledged nomination %s", n.State, id)
			}
		}
	}
	if len(records) < 50 || len(nominations) < 20 {
		t.Fatalf("too little traffic to mean anything: %d records, %d nominations acknowledged", len(records), len(nominations))
	}
	t.Logf("%d kills (%d while a snapshot was being written); %d records and %d nominations acknowledged, all present; %d writes without an answer", kills, midSnapshot, len(records), len(nominations), unknown)
}
