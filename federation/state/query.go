package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/crypto/seal"
	"github.com/entente/entente/federation/command"
)

// Entry returns one watchlist entry.
func (s *State) Entry(id string) (*Entry, bool, error) {
	var e *Entry
	err := s.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bEntries).Get([]byte(id))
		if v == nil {
			return nil
		}
		e = &Entry{}
		return json.Unmarshal(v, e)
	})
	return e, e != nil, err
}

// Entries returns the watchlist entries with status (all when status is empty), by id.
func (s *State) Entries(status string) ([]*Entry, error) {
	var out []*Entry
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bEntries).ForEach(func(_, v []byte) error {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if status == "" || e.Status == status {
				out = append(out, &e)
			}
			return nil
		})
	})
	return out, err
}

// Proposals returns every membership proposal, by id.
func (s *State) Proposals() ([]*Proposal, error) {
	var out []*Proposal
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bProposals).ForEach(func(_, v []byte) error {
			var p Proposal
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			out = append(out, &p)
			return nil
		})
	})
	return out, err
}

// Indicators returns every indicator, by id.
func (s *State) Indicators() ([]*Indicator, error) {
	var out []*Indicator
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bIndicators).ForEach(func(_, v []byte) error {
			var in Indicator
			if err := json.Unmarshal(v, &in); err != nil {
				return err
			}
			out = append(out, &in)
			return nil
		})
	})
	return out, err
}

// Alerts returns up to limit alerts raised after log index after, in log order.
func (s *State) Alerts(after uint64, limit int) ([]Alert, error) {
	var out []Alert
	err := s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bAlerts).Cursor()
		for k, v := c.Seek(u64key(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var a Alert
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// Key returns a data key that travelled with a command, wrapped for its recipients.
func (s *State) Key(id string) (seal.WrappedKey, bool) {
	var w seal.WrappedKey
	var ok bool
	_ = s.view(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bKeys).Get([]byte(id)); v != nil {
			ok = json.Unmarshal(v, &w) == nil
		}
		return nil
	})
	return w, ok
}

// Rejection returns why the entry at index was rejected, if it was.
func (s *State) Rejection(index uint64) (string, bool) {
	var r []byte
	_ = s.view(func(tx *bbolt.Tx) error {
		r = tx.Bucket(bResults).Get(u64key(index))
		if r != nil {
			r = append([]byte(nil), r...)
		}
		return nil
	})
	return string(r), r != nil
}

// SignedCommand returns the signed command applied at index, for anyone to re-verify.
func (s *State) SignedCommand(index uint64) (*command.Command, bool, error) {
	var c *command.Command
	err := s.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bCommands).Get(u64key(index))
		if v == nil {
			return nil
		}
		var err error
		c, err = command.Unmarshal(v)
		return err
	})
	return c, c != nil, err
}

// maxDue bounds how many transitions one call returns; the rest come next time.
const maxDue = 256

// Due lists the deadline transitions that have fallen due at now, for the leader to
// propose, from the deadline index: the cost is what is due, not the size of the state.
// Proposing one early is harmless: apply rejects it.
func (s *State) Due(now time.Time) ([]command.Transition, error) {
	limit := uint64(max(now.UnixNano(), 0))
	var out []command.Transition
	err := s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bDeadlines).Cursor()
		for k, v := c.First(); k != nil && len(out) < maxDue; k, v = c.Next() {
			if len(k) < 8 || binary.BigEndian.Uint64(k) > limit {
				break
			}
			out = append(out, command.Transition{Subject: string(k[8:]), To: string(v)})
		}
		return nil
	})
	return out, err
}

// EpochRecipient returns the age recipient state published for the first key epoch at or
// after min, and that epoch.
func (s *State) EpochRecipient(state string, min uint64) (string, uint64, bool) {
	var rcpt string
	var epoch uint64
	var ok bool
	_ = s.view(func(tx *bbolt.Tx) error {
		k, v := tx.Bucket(bEpochs).Cursor().Seek(epochRecipientKey(state, min))
		if len(k) == len(state)+8 && string(k[:len(state)]) == state {
			rcpt, epoch, ok = string(v), binary.BigEndian.Uint64(k[len(state):]), true
		}
		return nil
	})
	return rcpt, epoch, ok
}

// HasEpochRecipient reports whether state has published its recipient for epoch.
func (s *State) HasEpochRecipient(state string, epoch uint64) bool {
	var ok bool
	_ = s.view(func(tx *bbolt.Tx) error {
		ok = tx.Bucket(bEpochs).Get(epochRecipientKey(state, epoch)) != nil
		return nil
	})
	return ok
}

// ForEachKey calls fn with every replicated data key, in id order, until fn returns
// false. Nodes use it to rewrap their own retained keys and to drop purged ones. fn runs
// under the state's read lock: it must not call back into the State, or it deadlocks
// against an apply waiting for the write lock.
func (s *State) ForEachKey(fn func(seal.WrappedKey) bool) error {
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bKeys).ForEach(func(_, v []byte) error {
			var w seal.WrappedKey
			if err := json.Unmarshal(v, &w); err != nil {
				return err
			}
			if !fn(w) {
				return errStop
			}
			return nil
		})
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// errStop ends a ForEach early; it never leaves the package.
var errStop = errors.New("stop")

// NextDeadline returns a subject's next scheduled transition ("watchlist/ID" or
// "indicator/ID"), so a node can tell whether a subject will be purged before the key
// epoch its keys are wrapped to closes.
func (s *State) NextDeadline(subject string) (at int64, to string, ok bool) {
	kind, id, valid := cutSubject(subject)
	if !valid {
		return 0, "", false
	}
	_ = s.view(func(tx *bbolt.Tx) error {
		var v []byte
		switch kind {
		case "watchlist":
			v = tx.Bucket(bEntries).Get([]byte(id))
		case "indicator":
			v = tx.Bucket(bIndicators).Get([]byte(id))
		}
		if v == nil {
			return nil
		}
		var d struct {
			At int64  `json:"deadline_at"`
			To string `json:"deadline_to"`
		}
		if json.Unmarshal(v, &d) == nil {
			at, to, ok = d.At, d.To, true
		}
		return nil
	})
	return at, to, ok
}

// LatestEpochs returns, for each state that has published any, the furthest key epoch it
// has published a recipient for.
func (s *State) LatestEpochs() map[string]uint64 {
	out := map[string]uint64{}
	_ = s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bEpochs).ForEach(func(k, _ []byte) error {
			if len(k) > 8 {
				st, e := string(k[:len(k)-8]), binary.BigEndian.Uint64(k[len(k)-8:])
				out[st] = max(out[st], e)
			}
			return nil
		})
	})
	return out
}

// Indicator returns one risk indicator.
func (s *State) Indicator(id string) (*Indicator, bool, error) {
	var in *Indicator
	err := s.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bIndicators).Get([]byte(id))
		if v == nil {
			return nil
		}
		in = new(Indicator)
		return json.Unmarshal(v, in)
	})
	return in, in != nil, err
}
