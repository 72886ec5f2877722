package screening

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/node/lists"
	"github.com/entente/entente/node/screen"
)

// ConsensusList is the name of the list built from the federation's consensus watchlist.
// It is never imported: the node rebuilds it whenever the replicated state changes.
const ConsensusList = "consensus"

// FormatConsensus is the Format of the consensus list.
const FormatConsensus = "federation-watchlist"

// FormatNational is the format of a list a state keeps itself and uploads already in
// the import form (one screen.Entity per line), rather than parsed from a public file.
const FormatNational = "national"

// Errors callers branch on.
var (
	// ErrImportInProgress means another import of the same list is running (HTTP 409).
	ErrImportInProgress = errors.New("screening: an import of this list is in progress")
	// ErrVersionConflict means the version is already imported with different content
	// (HTTP 409).
	ErrVersionConflict = errors.New("screening: this version is already imported with different content")
	// ErrNoLists means the node holds no list to screen against (HTTP 503).
	ErrNoLists = errors.New("screening: no screening list is loaded")
)

// Counts summarises a list for the officer: the entities by type, their aliases and
// identifiers, and what the importer skipped.
type Counts struct {
	Entities      int `json:"entities"`
	Persons       int `json:"persons"`
	Organisations int `json:"organisations"`
	Vessels       int `json:"vessels"`
	Aircraft      int `json:"aircraft"`
	Other         int `json:"other"`
	Aliases       int `json:"aliases"`
	Identifiers   int `json:"identifiers"`
	// Skipped is what the source held but the importer left out; only the importer
	// knows it, so it is taken from the import header.
	Skipped int `json:"skipped"`
}

// CountsOf converts an importer's counts.
func CountsOf(c lists.Counts) Counts {
	return Counts{Entities: c.Entities, Persons: c.Persons, Organisations: c.Organisations, Vessels: c.Vessels,
		Aircraft: c.Aircraft, Other: c.Other, Aliases: c.Aliases, Identifiers: c.Identifiers, Skipped: c.Skipped}
}

// Count counts entities the way the importers do.
func Count(es []screen.Entity) Counts {
	var c Counts
	for i := range es {
		e := &es[i]
		c.Entities++
		switch e.Type {
		case "person":
			c.Persons++
		case "organisation":
			c.Organisations++
		case "vessel":
			c.Vessels++
		case "aircraft":
			c.Aircraft++
		default:
			c.Other++
		}
		if len(e.Names) > 1 {
			c.Aliases += len(e.Names) - 1
		}
		c.Identifiers += len(e.Identifiers)
	}
	return c
}

// Meta describes one version of a list.
type Meta struct {
	Name    string `json:"name"`
	Format  string `json:"format"`
	Version string `json:"version"`
	// Digest is "sha256:" and the digest of the entities' canonical JSON lines in ID
	// order, the same as lists.Result.Version for an unchanged import.
	Digest     string    `json:"digest"`
	Counts     Counts    `json:"counts"`
	ImportedAt time.Time `json:"imported_at"`
	// Actor is who imported it (the audit trail has the rest).
	Actor string `json:"actor,omitempty"`
	// Chunks is the number of entity chunks stored.
	Chunks int `json:"chunks,omitempty"`
}

// List is one list as the node serves it: an immutable index and its description.
type List struct {
	Meta
	Index *screen.Index
}

// Snapshot is the set of lists at one moment. It never changes; a swap makes a new one.
type Snapshot struct {
	lists []*List // sorted by name
}

// Lists returns the lists, sorted by name. The slice must not be modified.
func (s *Snapshot) Lists() []*List { return s.lists }

// Get returns the list called name.
func (s *Snapshot) Get(name string) (*List, bool) {
	i, ok := slices.BinarySearchFunc(s.lists, name, func(l *List, n string) int { return strings.Compare(l.Name, n) })
	if !ok {
		return nil, false
	}
	return s.lists[i], true
}

// with returns a snapshot with l in place of the list of the same name.
func (s *Snapshot) with(l *List) *Snapshot {
	out := &Snapshot{lists: make([]*List, 0, len(s.lists)+1)}
	for _, x := range s.lists {
		if x.Name != l.Name {
			out.lists = append(out.lists, x)
		}
	}
	out.lists = append(out.lists, l)
	slices.SortFunc(out.lists, func(a, b *List) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Service keeps the node's screening lists: in memory, one index per list, and in the
// node database. It is safe for concurrent use: searches read an immutable Snapshot while
// imports build the next one.
type Service struct {
	db  *bbolt.DB
	log *slog.Logger

	cur atomic.Pointer[Snapshot]

	mu        sync.Mutex // guards importing; held while a swap publishes a new snapshot
	importing map[string]time.Time

	rescreenMu sync.Mutex // one re-screening at a time, so alert de-duplication is simple
}

// Open loads every stored list from db and builds its index, logging progress, and
// returns the service. A stored list that cannot be decoded fails Open: serving without
// a list the operator imported would silently weaken screening.
func Open(db *bbolt.DB, log *slog.Logger) (*Service, error) {
	if err := db.Update(EnsureBuckets); err != nil {
		return nil, fmt.Errorf("screening: %w", err)
	}
	s := &Service{db: db, log: log, importing: map[string]time.Time{}}
	s.cur.Store(&Snapshot{})
	var metas []Meta
	if err := db.View(func(tx *bbolt.Tx) error {
		var err error
		metas, err = LoadMetas(tx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("screening: %w", err)
	}
	for _, m := range metas {
		start := time.Now()
		log.Info("loading screening list", "list", m.Name, "format", m.Format, "version", m.Version, "entities", m.Counts.Entities)
		b := screen.NewBuilder()
		n := 0
		err := db.View(func(tx *bbolt.Tx) error {
			return LoadEntities(tx, m.Name, func(e screen.Entity) error {
				b.Add(e)
				n++
				if n%100000 == 0 {
					log.Info("loading screening list", "list", m.Name, "entities", n, "of", m.Counts.Entities)
				}
				return nil
			})
		})
		if err != nil {
			return nil, fmt.Errorf("screening: list %s: %w", m.Name, err)
		}
		if n != m.Counts.Entities {
			return nil, fmt.Errorf("screening: list %s: %d entities stored, its description says %d", m.Name, n, m.Counts.Entities)
		}
		ix := b.Build()
		s.cur.Store(s.cur.Load().with(&List{Meta: m, Index: ix}))
		st := ix.Stats()
		log.Info("screening list ready", "list", m.Name, "version", m.Version, "entities", st.Entities, "names", st.Names,
			"index_build", st.BuildTime.Round(time.Millisecond), "took", time.Since(start).Round(time.Millisecond))
	}
	return s, nil
}

// Snapshot returns the lists as they are now.
func (s *Service) Snapshot() *Snapshot { return s.cur.Load() }

// Importing returns the lists being imported now and since when.
func (s *Service) Importing() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]time.Time, len(s.importing))
	for k, v := range s.importing {
		out[k] = v
	}
	return out
}

// beginImport marks name as being imported; the returned function unmarks it.
func (s *Service) beginImport(name string, now time.Time) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.importing[name]; busy {
		return nil, ErrImportInProgress
	}
	s.importing[name] = now
	return func() {
		s.mu.Lock()
		delete(s.importing, name)
		s.mu.Unlock()
	}, nil
}

// swap publishes l in place of its namesake.
func (s *Service) swap(l *List) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur.Store(s.cur.Load().with(l))
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// CheckName checks a list name as an import path gives it.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return &FieldError{Field: "name", Reason: fmt.Sprintf("%q is not a list name: use 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit (for example un, ofac-sdn)", clip(name))}
	}
	if name == ConsensusList {
		return &FieldError{Field: "name", Reason: "the consensus list is built from the federation's watchlist and cannot be imported; choose another name"}
	}
	return nil
}

// ImportResult says what an import did.
type ImportResult struct {
	Meta Meta
	// Unchanged is set when the same version was already serving: nothing was written.
	Unchanged bool
	// Created is set when the list did not exist before.
	Created bool
	// Previous is the version that served before, if any.
	Previous string
	// Changed is set when the entities differ from the previous version's, which is
	// when pending records must be re-screened.
	Changed bool
	// List is the list now serving.
	List *List
}

// Import reads an import body for list name (see ReadImport), builds its index off to
// the side and, unless the same version already serves, stores it and swaps it in. commit
// runs in the storing transaction, for the caller's audit entry; if it fails nothing is
// stored and the previous version keeps serving.
func (s *Service) Import(name string, body io.Reader, actor string, now time.Time, lim Limits, commit func(tx *bbolt.Tx, m Meta, prev *Meta) error) (*ImportResult, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	end, err := s.beginImport(name, now)
	if err != nil {
		return nil, err
	}
	defer end()
	start := time.Now()
	hdr, entities, err := ReadImport(body, name, lim)
	if err != nil {
		return nil, err
	}
	digest := Digest(entities)
	cur, exists := s.Snapshot().Get(name)
	if exists && cur.Version == hdr.Version {
		if cur.Digest != digest {
			return nil, ErrVersionConflict
		}
		return &ImportResult{Meta: cur.Meta, Unchanged: true, Previous: cur.Version, List: cur}, nil
	}
	counts := Count(entities)
	if hdr.Counts != nil {
		counts.Skipped = hdr.Counts.Skipped
	}
	m := Meta{Name: name, Format: hdr.Format, Version: hdr.Version, Digest: digest, Counts: counts, ImportedAt: now.UTC(), Actor: actor}
	b := screen.NewBuilder()
	for i := range entities {
		b.Add(entities[i])
	}
	ix := b.Build()
	var prev *Meta
	if exists {
		p := cur.Meta
		prev = &p
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		chunks, err := SaveList(tx, m, entities)
		if err != nil {
			return err
		}
		m.Chunks = chunks
		return commit(tx, m, prev)
	}); err != nil {
		return nil, err
	}
	l := &List{Meta: m, Index: ix}
	s.swap(l)
	s.log.Info("screening list imported", "list", name, "format", m.Format, "version", m.Version, "entities", counts.Entities,
		"previous", prevVersion(prev), "took", time.Since(start).Round(time.Millisecond))
	res := &ImportResult{Meta: m, Created: !exists, List: l, Changed: !exists || cur.Digest != digest}
	if exists {
		res.Previous = cur.Version
	}
	return res, nil
}

func prevVersion(m *Meta) string {
	if m == nil {
		return ""
	}
	return m.Version
}

// SetConsensus swaps in the consensus list built from entities, unless its content is
// the same as the one serving. It reports the list serving afterwards and whether it
// changed. The consensus list is not stored: the replicated state is its source.
func (s *Service) SetConsensus(entities []screen.Entity, version string, now time.Time) (*List, bool) {
	slices.SortFunc(entities, func(a, b screen.Entity) int { return strings.Compare(a.ID, b.ID) })
	digest := Digest(entities)
	if cur, ok := s.Snapshot().Get(ConsensusList); ok && cur.Digest == digest {
		return cur, false
	}
	b := screen.NewBuilder()
	for i := range entities {
		b.Add(entities[i])
	}
	l := &List{Meta: Meta{Name: ConsensusList, Format: FormatConsensus, Version: version, Digest: digest, Counts: Count(entities), ImportedAt: now.UTC()}, Index: b.Build()}
	s.swap(l)
	s.log.Info("consensus list rebuilt", "version", version, "entities", len(entities))
	return l, true
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
