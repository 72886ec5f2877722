// Package federation joins a member state's node to the federation: raft over the
// roster-pinned transport, the replicated state machine, gossip, and the proposal path.
// DESIGN.md beside this file explains the decisions.
package federation

import (
	"fmt"
	"io"

	"github.com/hashicorp/raft"

	"github.com/entente/entente/federation/internal/crashpoint"
	"github.com/entente/entente/federation/state"
)

// FSM adapts the replicated state to raft. It only delegates: decoding and rules live in
// federation/state. It is a raft.BatchingFSM, so a batch of entries costs one commit.
type FSM struct {
	st *state.State
}

// NewFSM returns raft's view of st.
func NewFSM(st *state.State) *FSM { return &FSM{st: st} }

// Apply applies one committed entry and returns its *state.Result.
func (f *FSM) Apply(l *raft.Log) interface{} { return f.st.Apply(l.Index, l.Data) }

// ApplyBatch applies a batch of committed entries in one state transaction; raft hands
// over up to MaxAppendEntries at a time. Configuration entries carry no command.
func (f *FSM) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	var batch []state.Committed
	var at []int
	for i, l := range logs {
		if l.Type == raft.LogCommand {
			batch = append(batch, state.Committed{Index: l.Index, Data: l.Data})
			at = append(at, i)
		}
	}
	if len(batch) == 0 {
		return out
	}
	for j, r := range f.st.ApplyBatch(batch) {
		out[at[j]] = r
	}
	return out
}

// Snapshot fixes the state as it is now; raft persists it later.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	s, err := f.st.BeginSnapshot()
	if err != nil {
		return nil, err
	}
	return &fsmSnapshot{s: s}, nil
}

// Restore replaces the state with a snapshot.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	return f.st.Restore(rc)
}

type fsmSnapshot struct{ s *state.Snap }

func (p *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := p.s.WriteTo(&crashAfter{w: sink, after: 4096}); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("federation: persist snapshot: %w", err)
	}
	return sink.Close()
}

func (p *fsmSnapshot) Release() { p.s.Release() }

// crashAfter passes writes through, reaching the snapshot-persist crash point once more
// than after bytes are written: a snapshot half on disk.
type crashAfter struct {
	w       io.Writer
	after   int
	written int
}

func (c *crashAfter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	if c.written <= c.after && c.written+n > c.after {
		crashpoint.Hit(crashpoint.SnapshotPersist)
	}
	c.written += n
	return n, err
}

var _ raft.BatchingFSM = (*FSM)(nil)
