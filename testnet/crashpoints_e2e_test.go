package testnet_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/client"
	"github.com/entente/entente/policy"
	"github.com/entente/entente/testnet"
)

// TestCrashPoints crashes a follower at exactly the worst moments of its write paths, with
// a binary built with the crash points compiled in: a state transaction written but not
// committed, and committed before raft heard of it; a raft log append written but not
// committed; a snapshot half written; a snapshot received from the leader and checked but
// not swapped in, and swapped in but not reopened. (Inside bbolt's own commit, between
// its page writes and its meta page, is bbolt's to get right; the points bracket it.)
// After each crash the node must restart cleanly without the crash point, catch up, and
// agree with the others on one state hash, holding every acknowledged nomination.
func TestCrashPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("crashes real node processes at named points of their write paths")
	}
	bin, err := testnet.CrashpointBinary()
	if err != nil {
		t.Fatal(err)
	}
	pol := testnet.DemoPolicy()
	pol.Voting.Consultation = policy.Duration(3 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	net, err := testnet.Up(ctx, testnet.Options{Bin: bin, Dir: t.TempDir(), Nodes: 3, FreePorts: true, Policy: &pol, Heartbeat: 200 * time.Millisecond,
		Extra: []string{"--raft-snapshot-threshold", "16", "--raft-trailing-logs", "8", "--raft-snapshot-interval", "200ms"}})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range net.Nodes {
				t.Logf("---- %s ----\n%s", n.State, lastLines(n.Logs(), 40))
			}
		}
		_ = net.Down(20 * time.Second)
	})

	var acked []string
	seq := 0
	// nominate commits one nomination through node i, retrying while an election or a
	// key epoch is under way; an answer lost with a dying node is not acknowledged.
	nominate := func(t *testing.T, i int) {
		t.Helper()
		seq++
		id := fmt.Sprintf("CP-%d", seq)
		for attempt := 0; attempt < 50; attempt++ {
			err := call(t, net, i, "officer", "POST", "/v1/watchlist/nominations", nomination(id, "Crash Point "+id, "REL TO FEDERATION"), nil)
			var ae *client.APIError
			switch {
			case err == nil, errors.As(err, &ae) && ae.Code == "rejected" && strings.Contains(ae.Message, "already exists"):
				acked = append(acked, id)
				return
			case errors.As(err, &ae) && ae.Status < 500:
				t.Fatalf("nomination %s through %s: %v", id, net.Nodes[i].State, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("nomination %s through %s never committed", id, net.Nodes[i].State)
	}

	for _, tc := range []struct {
		point   string
		nth     int
		missing int // nominations the follower misses while stopped, so the leader must send a snapshot
	}{
		{"state-before-commit", 3, 0},
		{"state-after-commit", 3, 0},
		{"log-before-commit", 3, 0},
		{"snapshot-persist", 1, 0},
		{"restore-before-swap", 1, 40},
		{"restore-after-swap", 1, 40},
	} {
		t.Run(tc.point, func(t *testing.T) {
			leader, err := net.WaitLeader(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			v := (leader + 1) % len(net.Nodes)
			other := (leader + 2) % len(net.Nodes)
			victim := net.Nodes[v]
			if err := victim.Stop(20 * time.Second); err != nil {
				t.Fatal(err)
			}
			for k := 0; k < tc.missing; k++ {
				nominate(t, other)
			}
			victim.Env = []string{fmt.Sprintf("ENTENTE_CRASHPOINT=%s:%d", tc.point, tc.nth)}
			sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = victim.Restart(sctx) // the crash may come before it is ready
			scancel()
			deadline := time.Now().Add(60 * time.Second)
			for victim.Running() && time.Now().Before(deadline) {
				nominate(t, other)
			}
			if victim.Running() {
				t.Fatalf("%s never reached the crash point %s", victim.State, tc.point)
			}
			logs := victim.Logs()
			_ = victim.Kill() // reaps the process the crash point killed
			if !strings.Contains(logs, "crashpoint reached: "+tc.point) {
				t.Fatalf("%s stopped, but not at the crash point %s:\n%s", victim.State, tc.point, lastLines(logs, 30))
			}

			victim.Env = nil
			rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
			err = victim.Restart(rctx)
			rcancel()
			if err != nil {
				t.Fatalf("%s did not restart cleanly after crashing at %s: %v", victim.State, tc.point, err)
			}
			nominate(t, v)
			converged(t, net)
			var out struct {
				Entries []api.WatchlistEntry `json:"entries"`
			}
			if err := call(t, net, v, "analyst", "GET", "/v1/watchlist?consistency=linearizable", nil, &out); err != nil {
				t.Fatal(err)
			}
			have := map[string]bool{}
			for _, e := range out.Entries {
				have[e.ID] = true
			}
			for _, id := range acked {
				if !have[id] {
					t.Fatalf("after crashing at %s, %s lacks the acknowledged nomination %s", tc.point, victim.State, id)
				}
			}
			t.Logf("%s crashed at %s, restarted, caught up: %d acknowledged nominations present, one state hash", victim.State, tc.point, len(acked))
		})
	}
}
