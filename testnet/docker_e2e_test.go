package testnet_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/client"
	"github.com/entente/entente/policy"
	"github.com/entente/entente/testnet"
)

// TestDockerFederation runs FRA, DEU and GBR as containers built FROM scratch from the
// static binary, on one bridge network (testnet/compose.yaml). The federation forms and
// lists a nomination made through a follower on every node; then the leader's container
// is disconnected from the network: the other two elect a leader among themselves and
// keep committing, while the cut node steps down, cannot commit a proposal of its own
// and falls behind. Reconnected, it catches up until every state hash is equal, and its
// proposal from the cut is nowhere.
func TestDockerFederation(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the Docker test network builds an image and runs containers")
	}
	if err := testnet.DockerAvailable(context.Background()); err != nil {
		t.Skipf("no Docker test network here: %v", err)
	}
	began := time.Now()
	step := func(format string, args ...any) {
		t.Logf("[%5.1fs] %s", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pol := testnet.DemoPolicy()
	pol.Voting.Consultation = policy.Duration(3 * time.Second)
	d, err := testnet.DockerUp(ctx, t, testnet.DockerOptions{Dir: t.TempDir(), Policy: &pol, Progress: func(s string) { step("%s", s) }})
	if err != nil {
		t.Fatal(err)
	}
	net := d.Net
	step("federation up")

	// The image is the static binary on scratch: one layer, and no shell to run.
	if out, err := exec.Command("docker", "image", "inspect", "-f", "{{len .RootFS.Layers}}", d.Image).Output(); err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("image %s: want one layer (the binary on scratch), got %q (%v)", d.Image, out, err)
	}
	if out, err := exec.Command("docker", "exec", d.Container(0), "/bin/sh", "-c", "true").CombinedOutput(); err == nil {
		t.Fatalf("the node's container runs a shell: %s", out)
	}

	// Every node answers /readyz at its address on the bridge network, runs as an
	// unprivileged user, and its keys are still 0600 on the host.
	for i, n := range net.Nodes {
		c, err := n.Client("")
		if err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = c.Do(rctx, "GET", "/readyz", nil, nil)
		rcancel()
		c.CloseIdle()
		if err != nil {
			t.Fatalf("%s (%s) does not answer /readyz: %v", n.State, n.URL(), err)
		}
		for _, f := range []string{"keys/age.key", "keys/signing.jwk", "keys/tls.key", "gossip.key"} {
			fi, err := os.Stat(filepath.Join(n.DataDir, f))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("%s: %s is %v, want 0600", n.State, f, fi.Mode().Perm())
			}
		}
		user := containerUser(t, d.Container(i))
		if user == "" || user == "0" || user == "0:0" || user == "root" {
			t.Fatalf("%s's container runs as %q, not as an unprivileged user", n.State, user)
		}
	}

	// A nomination made through a follower is forwarded to the leader, endorsed by the
	// others and listed on all three, with one state hash.
	leader, err := net.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := (leader + 1) % len(net.Nodes)
	id := "DOCKER-" + net.Nodes[f].State + "-1"
	var res api.FedResult
	if err := call(t, net, f, "officer", "POST", "/v1/watchlist/nominations", nomination(id, "Bandar Abbas Gyro Works", "REL TO FEDERATION"), &res); err != nil {
		t.Fatalf("nomination through %s: %v", net.Nodes[f].State, err)
	}
	if res.Index == 0 {
		t.Fatalf("the answer does not say where the nomination committed: %+v", res)
	}
	for i := range net.Nodes {
		if i == f {
			continue
		}
		if err := call(t, net, i, "officer", "POST", "/v1/watchlist/"+id+"/votes", api.VoteRequest{Position: "endorse"}, nil); err != nil {
			t.Fatalf("%s endorses: %v", net.Nodes[i].State, err)
		}
	}
	for i := range net.Nodes {
		eventually(t, 30*time.Second, id+" listed on "+net.Nodes[i].State, func() (bool, string) {
			e, err := entryOn(t, net, i, id)
			if err != nil {
				return false, err.Error()
			}
			return e.Status == "listed", e.Status
		})
	}
	converged(t, net)
	step("%s nominated through %s, listed on all three; leader %s", id, net.Nodes[f].State, net.Nodes[leader].State)

	// Cut the leader off the network.
	cut := leader
	if err := d.Disconnect(cut); err != nil {
		t.Fatal(err)
	}
	step("disconnected %s (the leader)", net.Nodes[cut].State)
	var others []int
	for i := range net.Nodes {
		if i != cut {
			others = append(others, i)
		}
	}
	newLeader := -1
	eventually(t, 30*time.Second, "a new leader among the connected nodes", func() (bool, string) {
		name := ""
		for _, i := range others {
			s, err := net.Status(ctx, i)
			if err != nil {
				return false, fmt.Sprintf("%s: %v", net.Nodes[i].State, err)
			}
			if s.Leader == "" || s.Leader == net.Nodes[cut].State || (name != "" && s.Leader != name) {
				return false, fmt.Sprintf("%s follows %q", s.State, s.Leader)
			}
			name = s.Leader
		}
		newLeader = slices.IndexFunc(net.Nodes, func(n *testnet.Node) bool { return n.State == name })
		return true, ""
	})
	step("%s leads %s and %s", net.Nodes[newLeader].State, net.Nodes[others[0]].State, net.Nodes[others[1]].State)

	// The majority keeps committing: a nomination through its follower is forwarded to
	// the new leader.
	w := others[0]
	if w == newLeader {
		w = others[1]
	}
	cutID := "DOCKER-" + net.Nodes[w].State + "-CUT"
	var cutRes api.FedResult
	eventually(t, 30*time.Second, "a nomination through "+net.Nodes[w].State+" while "+net.Nodes[cut].State+" is cut", func() (bool, string) {
		err := call(t, net, w, "officer", "POST", "/v1/watchlist/nominations", nomination(cutID, "Cut Link Trading", "REL TO FEDERATION"), &cutRes)
		var ae *client.APIError
		switch {
		case err == nil:
			return true, ""
		case errors.As(err, &ae) && ae.Status == 503:
			return false, err.Error() // no leader yet, or the answer was lost on the way
		case errors.As(err, &ae) && ae.Code == "rejected" && strings.Contains(ae.Message, "already exists"):
			// An earlier attempt committed and its answer was lost: what w has applied
			// now includes it.
			s, err := net.Status(ctx, w)
			cutRes.Index = s.Applied
			return err == nil, fmt.Sprint(err)
		}
		t.Fatalf("no write while %s is cut: %v", net.Nodes[cut].State, err)
		return false, ""
	})
	eventually(t, 30*time.Second, "the connected nodes to apply "+cutID, func() (bool, string) {
		var first testnet.Status
		for _, i := range others {
			s, err := net.Status(ctx, i)
			if err != nil {
				return false, err.Error()
			}
			if s.Applied < cutRes.Index {
				return false, fmt.Sprintf("%s at %d, want %d", s.State, s.Applied, cutRes.Index)
			}
			if first.State != "" && (s.Applied != first.Applied || s.StateHash != first.StateHash) {
				return false, fmt.Sprintf("%s at %d %s, %s at %d %s", first.State, first.Applied, first.StateHash, s.State, s.Applied, s.StateHash)
			}
			first = s
		}
		return true, ""
	})
	step("%s committed at %d through %s", cutID, cutRes.Index, net.Nodes[w].State)

	// The cut node, reached through its admin socket (its API has no network), has
	// stepped down, cannot commit a proposal of its own, and has not seen the majority's.
	admin, err := net.Nodes[cut].AdminClient()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.CloseIdle()
	cutStatus := func() (testnet.Status, error) {
		var s testnet.Status
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		defer scancel()
		err := admin.JSON(sctx, "GET", "/v1/federation/status", nil, &s)
		return s, err
	}
	eventually(t, 15*time.Second, net.Nodes[cut].State+" to step down", func() (bool, string) {
		s, err := cutStatus()
		if err != nil {
			return false, err.Error()
		}
		return s.Role != "Leader", fmt.Sprintf("%s is %s", s.State, s.Role)
	})
	removal := api.RemovalRequest{ID: "DOCKER-CUT-REMOVAL", State: net.Nodes[others[0]].State}
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	refusal := admin.JSON(pctx, "POST", "/v1/federation/removals", removal, nil)
	pcancel()
	if refusal == nil {
		t.Fatalf("%s committed a proposal while cut off from the federation", net.Nodes[cut].State)
	}
	s, err := cutStatus()
	if err != nil {
		t.Fatal(err)
	}
	if s.Applied >= cutRes.Index {
		t.Fatalf("%s applied index %d while cut, the majority committed at %d without it", s.State, s.Applied, cutRes.Index)
	}
	step("%s is %s at %d and cannot commit: %v", s.State, s.Role, s.Applied, refusal)

	// Reconnected, the cut node catches up: one state everywhere, the nomination it
	// missed included, its own proposal from the cut nowhere.
	if err := d.Connect(cut); err != nil {
		t.Fatal(err)
	}
	step("reconnected %s", net.Nodes[cut].State)
	converged(t, net)
	if _, err := entryOn(t, net, cut, cutID); err != nil {
		t.Fatalf("%s has not caught up with %s: %v", net.Nodes[cut].State, cutID, err)
	}
	for i, n := range net.Nodes {
		var out struct {
			Proposals []struct {
				ID string `json:"id"`
			} `json:"proposals"`
		}
		if err := call(t, net, i, "operator", "GET", "/v1/federation/proposals", nil, &out); err != nil {
			t.Fatal(err)
		}
		for _, p := range out.Proposals {
			if p.ID == removal.ID {
				t.Fatalf("%s holds %s, proposed by %s while it was cut off", n.State, removal.ID, net.Nodes[cut].State)
			}
		}
	}
	final, err := net.Status(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	step("%s caught up: every node at %d, state hash %.12s", net.Nodes[cut].State, final.Applied, final.StateHash)
}

// containerUser is the user a container runs as.
func containerUser(t *testing.T, id string) string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", "{{.Config.User}}", id).Output()
	if err != nil {
		t.Fatalf("docker inspect %s: %v", id, err)
	}
	return strings.TrimSpace(string(out))
}
