package state

import (
	"encoding/json"
	"sort"
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

// Due lists the deadline transitions that have fallen due at now, for the leader to
// propose. Proposing one early is harmless: apply rejects it.
func (s *State) Due(now time.Time) ([]command.Transition, error) {
	t := now.UnixNano()
	pol := s.Policy()
	v := pol.Voting
	var out []command.Transition
	entries, err := s.Entries("")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		to := ""
		switch {
		case e.Status == StatusNominated && t >= e.WindowEnds:
			to = "closed"
		case e.Status == StatusListed && t >= e.ReviewDue:
			to = "review-due"
		case e.Status == StatusAppealed && t >= e.AppealEnds:
			to = "appeal-closed"
		case e.Status == StatusReviewDue && t >= e.ReviewDue+time.Duration(v.Grace).Nanoseconds():
			to = "expired"
		case e.Status == StatusDelisted:
			to = "expired"
		case e.Status == StatusExpired && t >= e.Nominated+pol.RetentionFor(e.Kind).Nanoseconds():
			to = "purged"
		}
		if to != "" {
			out = append(out, command.Transition{Subject: "watchlist/" + e.ID, To: to})
		}
	}
	inds, err := s.Indicators()
	if err != nil {
		return nil, err
	}
	for _, in := range inds {
		switch {
		case in.Status == "active" && t >= in.ValidUntil:
			out = append(out, command.Transition{Subject: "indicator/" + in.ID, To: "expired"})
		case in.Status != "active" && t >= in.Published+pol.RetentionFor("indicator").Nanoseconds():
			out = append(out, command.Transition{Subject: "indicator/" + in.ID, To: "purged"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Subject < out[j].Subject })
	return out, nil
}
