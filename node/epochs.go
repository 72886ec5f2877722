package node

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"filippo.io/age"

	"github.com/entente/entente/crypto/seal"
	"github.com/entente/entente/federation"
	"github.com/entente/entente/federation/command"
	"github.com/entente/entente/policy"
)

// How retention is made final on this node (federation/DESIGN.md, "Sealing in the
// federation, and crypto-shredding"): every shared subject has its own data key, wrapped
// to each recipient state's identity for the key epoch in which the subject's retention
// ends. Each node publishes its recipients for the epochs it will be asked for ahead of
// time, destroys each epoch identity when the epoch closes, drops a subject's data key
// once the subject is purged, and rewraps its own subjects that outlive their epoch.

// sharedKinds are the kinds of shared subject whose retention decides their key epoch.
var sharedKinds = []string{"denied-party", "end-user-of-concern", "debarred-supplier", "indicator"}

// Epoch windows, in key epochs. Recipients are published for the current epoch and
// publishAhead more; an own subject whose earliest epoch closes within rewrapWithin
// epochs is rewrapped to the epoch rewrapTo ahead. An originator offline for up to
// rewrapWithin epochs therefore loses nothing.
const (
	publishAhead = 4
	rewrapWithin = 2
	rewrapTo     = 4
	// maxRewrapsPerPass bounds the commands one pass proposes, so a backlog after a long
	// outage is spread over several passes rather than flooding the log.
	maxRewrapsPerPass = 256
)

// maxEpochSlack is how many epochs past its target a key may be wrapped to, for a
// state that has not published the target epoch itself.
const maxEpochSlack = 1

// keyRetry is how soon a failed housekeeping pass is repeated.
const keyRetry = time.Second

// errEpochPending means a recipient state has not published a key for the epoch a value
// must be sealed for. It clears once that state's node has run its key housekeeping.
var errEpochPending = errors.New("a member has not yet published its key for this key epoch")

// epochDirectory resolves the states' published epoch recipients from the replicated
// state.
type epochDirectory struct{ n *Node }

func (d epochDirectory) EpochRecipient(state string, min uint64) (age.Recipient, uint64, error) {
	f := d.n.fed.Load()
	if f == nil {
		return nil, 0, errNoFederation
	}
	s, epoch, ok := f.State().EpochRecipient(state, min)
	if !ok || epoch > min+maxEpochSlack {
		// Wrapping to a much later epoch would keep the value readable long after its
		// retention: wait for the state to publish instead.
		return nil, 0, fmt.Errorf("%w: %s has none for epoch %d to %d", errEpochPending, state, min, min+maxEpochSlack)
	}
	r, err := age.ParseX25519Recipient(s)
	return r, epoch, err
}

// subjectEpoch is the key epoch a subject of kind, created at base, is sealed for: the
// one in which its retention ends, and never one that has already closed.
func subjectEpoch(pol policy.Policy, kind string, base, now time.Time) uint64 {
	return max(pol.Epoch(base.Add(pol.RetentionFor(kind))), pol.Epoch(now))
}

// keyHousekeepingInterval is how often the pass runs: a quarter of an epoch, within
// [1s, 1m], so a closing epoch is acted on well before it ends.
func keyHousekeepingInterval(pol policy.Policy) time.Duration {
	return min(max(time.Duration(pol.KeyEpoch)/4, time.Second), time.Minute)
}

// runKeyHousekeeping runs until ctx ends: shredPass on its own loop, since destroying
// closed epochs must never wait on the network, and publishPass beside it. The first
// passes run at once, so a node that has just joined publishes its recipients before
// anyone must seal to it.
func (n *Node) runKeyHousekeeping(ctx context.Context, f *federation.Federation) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.keyLoop(ctx, f, "destroying keys", n.shredPass)
	}()
	n.keyLoop(ctx, f, "publishing keys", n.publishPass)
	<-done
}

func (n *Node) keyLoop(ctx context.Context, f *federation.Federation, what string, pass func(context.Context, *federation.Federation) error) {
	for {
		wait := keyHousekeepingInterval(f.State().Policy())
		if err := pass(ctx, f); err != nil && ctx.Err() == nil {
			// Usually no leader yet, or an election: try again soon rather than a full
			// interval later, since others cannot seal to this node until it publishes.
			n.log.Warn("key housekeeping: "+what, "err", err)
			wait = min(wait, keyRetry)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// shredPass destroys the identities of closed epochs, forgets the data keys of purged
// subjects and takes up rewraps made by their originators. It touches only local files
// and the local state. Every step is idempotent, so a failed pass is simply repeated.
func (n *Node) shredPass(_ context.Context, f *federation.Federation) error {
	cur := f.State().Policy().Epoch(n.now())
	gone, err := n.epochs.DestroyBefore(cur)
	if err != nil {
		return fmt.Errorf("destroying closed key epochs: %w", err)
	}
	if len(gone) > 0 {
		n.log.Info("key epochs closed: identities destroyed", "epochs", gone)
	}
	var dropped int
	for _, w := range n.ring.SubjectKeys() {
		st, ok := f.State().Key(w.ID)
		switch {
		case !ok:
			// Purged (or never committed: a command that carried it would bring it back).
			if err := n.ring.Destroy(w.ID); err != nil {
				return err
			}
			dropped++
		case st.Epoch > w.Epoch:
			if err := n.ring.Import(st); err != nil {
				return err
			}
		}
	}
	if dropped > 0 {
		n.log.Info("data keys of purged subjects destroyed", "keys", dropped)
	}
	return nil
}

// publishPass publishes this node's recipients for the epochs others will seal to, and
// rewraps its own subjects that outlive the epochs their keys are wrapped to.
func (n *Node) publishPass(ctx context.Context, f *federation.Federation) error {
	now := n.now()
	pol := f.State().Policy()
	cur := pol.Epoch(now)

	// Publish recipients for the epochs others will seal to.
	want := map[uint64]bool{}
	for e := cur; e <= cur+publishAhead; e++ {
		want[e] = true
	}
	for _, kind := range sharedKinds {
		e := pol.Epoch(now.Add(pol.RetentionFor(kind)))
		want[e], want[e+1] = true, true
	}
	var errs []error
	for _, e := range slices.Sorted(maps.Keys(want)) {
		if f.State().HasEpochRecipient(n.id.State, e) {
			continue
		}
		rcpt, err := n.epochs.Recipient(e)
		if err == nil {
			err = n.proposeOwn(ctx, f, &command.EpochKey{Epoch: e, Recipient: rcpt})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("publishing key epoch %d: %w", e, err))
			break // the nearest epochs first; the rest next pass
		}
	}

	// Rewrap own subjects that outlive the epochs their keys are wrapped to.
	L := time.Duration(pol.KeyEpoch)
	// Collect first, then look at each subject: ForEachKey holds the state's read lock,
	// and taking it again inside would deadlock against a waiting apply.
	var near []seal.WrappedKey
	err := f.State().ForEachKey(func(w seal.WrappedKey) bool {
		if w.Origin == n.id.State && len(w.Epochs) > 0 && slices.Min(w.Epochs) <= cur+rewrapWithin {
			near = append(near, w)
		}
		return len(near) < 4*maxRewrapsPerPass
	})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	var due []seal.WrappedKey
	for _, w := range near {
		closes := time.Unix(0, 0).Add(time.Duration(slices.Min(w.Epochs)+1) * L)
		if at, to, ok := f.State().NextDeadline(w.Subject); ok && to == "purged" && time.Unix(0, at).Before(closes) {
			continue // purged before its epoch closes: let it go
		}
		if due = append(due, w); len(due) == maxRewrapsPerPass {
			break
		}
	}
	for _, w := range due {
		if _, held := n.ring.Key(w.ID); !held {
			if err := n.ring.Import(w); err != nil {
				return err
			}
		}
		nw, _ := n.ring.Key(w.ID)
		if nw.Epoch < cur+rewrapTo { // else: rewrapped in an earlier pass whose proposal failed
			var err error
			if nw, err = n.ring.Rewrap(w.ID, cur+rewrapTo); err != nil {
				return errors.Join(append(errs, fmt.Errorf("rewrapping %s of %s: %w", w.ID, w.Subject, err))...)
			}
		}
		if err := n.proposeOwn(ctx, f, &command.Rewrap{Key: nw}); err != nil {
			return errors.Join(append(errs, fmt.Errorf("proposing the rewrap of %s: %w", w.ID, err))...)
		}
	}
	return errors.Join(errs...)
}

// proposeOwn signs pl as this state and commits it; a rejection is an error here, since
// housekeeping proposes only what the rules allow.
func (n *Node) proposeOwn(ctx context.Context, f *federation.Federation, pl command.Payload) error {
	c, err := command.New(n.id.State, pl)
	if err != nil {
		return err
	}
	if err := c.Sign(n.Signer()); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := f.ProposeOwn(ctx, c)
	if err != nil {
		return err
	}
	if res.Rejected != "" {
		return fmt.Errorf("%s rejected: %s", c.Type, res.Rejected)
	}
	return nil
}
