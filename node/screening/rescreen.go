package screening

import (
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/node/screen"
)

// RescreenLimit is the number of hits kept per party when re-screening: an alert asks an
// officer to look at the record, and five candidates are plenty to look at.
const RescreenLimit = 5

// Party is one party of a pending national record, as re-screening sees it.
type Party struct {
	RecordID      string
	RecordKind    string
	RecordVersion int
	// Field is where the party is in the record: applicant, end_user, intermediaries[1]...
	Field string
	Query screen.Query
}

// RescreenResult says what one re-screening did.
type RescreenResult struct {
	List    string
	Version string
	// Parties is the number of parties screened, Hits the hits they had (new or not).
	Parties, Hits int
	// Alerts are the alerts raised now: hits of a record and an entity not seen before.
	Alerts []Alert
}

// Rescreen screens parties against l at the default threshold and stores an alert for
// each hit whose record and entity never raised one. commit runs in the same
// transaction, for the caller's audit entry; if it fails, no alert is stored.
func (s *Service) Rescreen(l *List, parties []Party, now time.Time, commit func(tx *bbolt.Tx, r *RescreenResult) error) (*RescreenResult, error) {
	s.rescreenMu.Lock()
	defer s.rescreenMu.Unlock()
	res := &RescreenResult{List: l.Name, Version: l.Version, Parties: len(parties)}
	var found []Alert
	for _, p := range parties {
		q := p.Query
		q.Threshold, q.Limit = screen.DefaultThreshold, RescreenLimit
		hits, err := l.Index.Search(q)
		if err != nil {
			// A party the record layer accepted but the engine does not (it has no name
			// left after normalisation, say) cannot match: skip it, do not fail the run.
			s.log.Debug("re-screening skipped a party", "record", p.RecordID, "field", p.Field, "err", err)
			continue
		}
		res.Hits += len(hits)
		for _, h := range hits {
			found = append(found, Alert{Time: now.UTC(), RecordID: p.RecordID, RecordKind: p.RecordKind, RecordVersion: p.RecordVersion,
				Party: p.Field, List: l.Name, ListVersion: l.Version, EntityID: h.Entity.ID, MatchedName: h.MatchedName, Score: h.Score})
		}
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		res.Alerts = res.Alerts[:0]
		for _, a := range found {
			stored, isNew, err := AddAlert(tx, a)
			if err != nil {
				return err
			}
			if isNew {
				res.Alerts = append(res.Alerts, stored)
			}
		}
		return commit(tx, res)
	})
	if err != nil {
		return nil, err
	}
	if len(res.Alerts) > 0 {
		s.log.Info("re-screening raised local alerts", "list", l.Name, "version", l.Version, "parties", res.Parties, "alerts", len(res.Alerts))
	}
	return res, nil
}

// Alerts returns up to limit local alerts below seq before (0: the newest), newest first.
func (s *Service) Alerts(before uint64, limit int) ([]Alert, error) {
	var out []Alert
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		out, err = ListAlerts(tx, before, limit)
		return err
	})
	return out, err
}
