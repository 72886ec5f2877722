package node

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/crypto/seal"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/audit"
	"github.com/entente/entente/node/records"
	"github.com/entente/entente/policy"
)

// The audit actions the node records.
const (
	ActionRecordCreate  = "record.create"
	ActionRecordCorrect = "record.correct"
	ActionTokenIssue    = "token.issue"
	ActionTokenRevoke   = "token.revoke"
	ActionKeysRotate    = "keys.rotate"
)

// fieldPath is the path a record field is sealed under; it is part of the binding.
func fieldPath(name string) string { return "fields." + name }

// CreateRecord validates, seals and stores a new national record, and appends its audit
// entry in the same transaction.
func (n *Node) CreateRecord(p access.Principal, in *records.Input) (*api.RecordView, error) {
	checked, err := records.Validate(in, n.pol)
	if err != nil {
		return nil, err
	}
	if checked.ID == "" {
		if checked.ID, err = n.newRecordID(); err != nil {
			return nil, err
		}
	}
	st, err := n.sealRecord(p, checked, 1)
	if err != nil {
		return nil, err
	}
	var seq uint64
	err = n.commit.Update(func(tx *bbolt.Tx) error {
		if err := records.Create(tx, st); err != nil {
			return err
		}
		e, err := audit.Append(tx, n.auditEntry(p, ActionRecordCreate, records.EntryID(st.ID, 1), checked.Rationale, st.Created, map[string]string{"kind": st.Kind}))
		seq = e.Seq
		return err
	})
	if err != nil {
		return nil, err
	}
	return n.viewChecked(p, st, checked, seq), nil
}

// CorrectRecord stores a new version of record id on top of baseVersion; the old
// versions stay as they were.
func (n *Node) CorrectRecord(p access.Principal, id string, baseVersion int, in *records.Input) (*api.RecordView, error) {
	checked, err := records.Validate(in, n.pol)
	if err != nil {
		return nil, err
	}
	checked.ID = id
	if strings.TrimSpace(checked.Rationale) == "" {
		return nil, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "rationale", Msg: "a correction needs a rationale", Hint: "say why the record is corrected; it goes into the audit trail"}
	}
	st, err := n.sealRecord(p, checked, baseVersion+1)
	if err != nil {
		return nil, err
	}
	var seq uint64
	err = n.commit.Update(func(tx *bbolt.Tx) error {
		prev, err := records.Get(tx, id, 0)
		if err != nil {
			return err
		}
		if prev.Kind != st.Kind {
			return &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "kind", Msg: fmt.Sprintf("record %s is a %s; a correction cannot change its kind", id, prev.Kind)}
		}
		if err := records.Correct(tx, st, baseVersion); err != nil {
			return err
		}
		e, err := audit.Append(tx, n.auditEntry(p, ActionRecordCorrect, records.EntryID(id, st.Version), checked.Rationale, st.Created, map[string]string{"kind": st.Kind, "corrects": records.EntryID(id, baseVersion)}))
		seq = e.Seq
		return err
	})
	if err != nil {
		return nil, err
	}
	return n.viewChecked(p, st, checked, seq), nil
}

// sealRecord seals each field of checked for the states its marking releases it to.
// Sealing happens before the transaction: it may need to create and wrap a data key, and
// the work is the same however the write ends.
func (n *Node) sealRecord(p access.Principal, checked *records.Checked, version int) (*records.Stored, error) {
	now := n.now().UTC()
	st := &records.Stored{
		ID: checked.ID, Kind: checked.Kind, Version: version, Created: now,
		Actor: p.Subject, Rationale: checked.Rationale, Fields: make(map[string]records.StoredField, len(checked.Fields)),
	}
	entry := records.EntryID(checked.ID, version)
	epoch := n.pol.Epoch(now)
	// In a federation the replicated roster says who the members are (states admitted
	// since the genesis included); the roster file is what a node knows before it joins.
	roster := n.roster.Policy
	if f := n.fed.Load(); f != nil {
		roster = fedRoster(f)
	}
	for _, f := range checked.Fields {
		mk := f.Marking.String()
		if f.Marking.Kind == policy.Public {
			st.Fields[f.Name] = records.StoredField{Marking: mk, Plain: f.Value}
			continue
		}
		to, err := policy.Recipients(f.Marking, roster, n.pol, n.id.State)
		if err != nil {
			return nil, &records.FieldError{Field: "markings." + f.Name, Problem: err.Error()}
		}
		s, err := n.ring.Seal(entry, fieldPath(f.Name), mk, to, epoch, f.Value)
		if err != nil {
			return nil, fmt.Errorf("seal %s: %w", f.Name, err)
		}
		st.Fields[f.Name] = records.StoredField{Marking: mk, Sealed: &s}
	}
	return st, nil
}

func (n *Node) auditEntry(p access.Principal, action, object, rationale string, at time.Time, detail map[string]string) audit.Entry {
	if detail == nil {
		detail = map[string]string{}
	}
	detail["token"] = p.TokenID
	detail["role"] = string(p.Role)
	return audit.Entry{Time: at, Actor: p.Subject, Action: action, Object: object, Rationale: rationale, Detail: detail}
}

// viewChecked builds the caller's view of a record just written, from the values it sent.
func (n *Node) viewChecked(p access.Principal, st *records.Stored, c *records.Checked, seq uint64) *api.RecordView {
	v := &api.RecordView{ID: st.ID, Kind: st.Kind, Version: st.Version, Created: st.Created, Actor: st.Actor, Rationale: st.Rationale, Fields: map[string]api.FieldView{}, AuditSeq: seq}
	for _, f := range c.Fields {
		fv := api.FieldView{Marking: f.Marking.String()}
		if policy.MayRead(p.Role, f.Marking) {
			fv.Value = f.Value
		} else {
			fv.Sealed = true
		}
		v.Fields[f.Name] = fv
	}
	return v
}

// view opens a stored record's fields as far as p may read them.
func (n *Node) view(p access.Principal, st *records.Stored) (*api.RecordView, error) {
	v := &api.RecordView{ID: st.ID, Kind: st.Kind, Version: st.Version, Created: st.Created, Actor: st.Actor, Rationale: st.Rationale, Fields: make(map[string]api.FieldView, len(st.Fields))}
	entry := records.EntryID(st.ID, st.Version)
	for name, f := range st.Fields {
		fv := api.FieldView{Marking: f.Marking}
		m, err := policy.ParseMarking(f.Marking)
		switch {
		case err != nil:
			return nil, fmt.Errorf("record %s field %s: stored marking: %w", entry, name, err)
		case !policy.MayRead(p.Role, m):
			fv.Sealed = true
		case f.Sealed == nil:
			fv.Value = f.Plain
		default:
			val, err := n.ring.Open(*f.Sealed, entry, fieldPath(name))
			switch {
			case errors.Is(err, seal.ErrNotReleased):
				fv.Sealed = true
			case err != nil:
				return nil, fmt.Errorf("record %s field %s: %w", entry, name, err)
			default:
				fv.Value = json.RawMessage(val)
			}
		}
		v.Fields[name] = fv
	}
	return v, nil
}

// GetRecord returns one version of a record (0 = latest), opened for p.
func (n *Node) GetRecord(p access.Principal, id string, version int) (*api.RecordView, error) {
	st, err := n.GetSealedRecord(p, id, version)
	if err != nil {
		return nil, err
	}
	return n.view(p, st)
}

// GetSealedRecord returns a record as stored: every field sealed.
func (n *Node) GetSealedRecord(_ access.Principal, id string, version int) (*records.Stored, error) {
	var st *records.Stored
	err := n.db.View(func(tx *bbolt.Tx) error {
		var err error
		st, err = records.Get(tx, id, version)
		return err
	})
	return st, err
}

// RecordHistory returns every version of a record, oldest first, opened for p.
func (n *Node) RecordHistory(p access.Principal, id string) ([]*api.RecordView, error) {
	var all []*records.Stored
	if err := n.db.View(func(tx *bbolt.Tx) error {
		var err error
		all, err = records.History(tx, id)
		return err
	}); err != nil {
		return nil, err
	}
	out := make([]*api.RecordView, 0, len(all))
	for _, st := range all {
		v, err := n.view(p, st)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// ListRecords returns a page of the latest versions matching f.
func (n *Node) ListRecords(p access.Principal, f records.Filter, cursor string, limit int) ([]*api.RecordView, string, error) {
	var page []*records.Stored
	var next string
	if err := n.db.View(func(tx *bbolt.Tx) error {
		var err error
		page, next, err = records.List(tx, f, cursor, limit)
		return err
	}); err != nil {
		return nil, "", err
	}
	out := make([]*api.RecordView, 0, len(page))
	for _, st := range page {
		v, err := n.view(p, st)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	return out, next, nil
}

// AuditEntries returns up to limit audit entries after sequence number after.
func (n *Node) AuditEntries(after uint64, limit int) ([]audit.Entry, error) {
	var es []audit.Entry
	err := n.db.View(func(tx *bbolt.Tx) error {
		var err error
		es, err = audit.List(tx, after, limit)
		return err
	})
	return es, err
}

// VerifyAudit walks the whole audit chain.
func (n *Node) VerifyAudit() (api.AuditStatus, error) {
	var st api.AuditStatus
	err := n.db.View(func(tx *bbolt.Tx) error {
		count, head, err := audit.VerifyDB(tx)
		st.Entries = count
		var ce *audit.ChainError
		switch {
		case errors.As(err, &ce):
			st.Problem, st.BadSeq = ce.Problem, ce.Seq
		case err != nil:
			return err
		default:
			st.OK, st.Head, st.HeadSeq = true, head.Hash, head.Seq
		}
		return nil
	})
	return st, err
}

// IssueToken issues a client token and records it, with its audit entry, in one transaction.
func (n *Node) IssueToken(p access.Principal, req api.TokenRequest) (string, access.Token, error) {
	role, err := policy.ParseRole(req.Role)
	if err != nil {
		return "", access.Token{}, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "role", Msg: err.Error()}
	}
	var ttl policy.Duration
	if req.TTL == "" {
		req.TTL = "24h"
	}
	if err := ttl.UnmarshalText([]byte(req.TTL)); err != nil || time.Duration(ttl) < time.Second {
		return "", access.Token{}, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "ttl", Msg: fmt.Sprintf("%q is not a duration of at least one second", req.TTL), Hint: "for example 24h, 30d"}
	}
	if time.Duration(ttl) > n.cfg.TokenMaxTTL {
		return "", access.Token{}, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "ttl", Msg: fmt.Sprintf("%s is longer than this node's token_max_ttl (%s)", req.TTL, n.cfg.TokenMaxTTL), Hint: "ask for a shorter lifetime"}
	}
	if req.Subject == "" {
		req.Subject = string(role)
	}
	if len(req.Subject) > 128 {
		return "", access.Token{}, &api.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "subject", Msg: "longer than 128 characters", Hint: "name who holds the token, briefly"}
	}
	var raw string
	var tok access.Token
	err = n.db.Update(func(tx *bbolt.Tx) error {
		var err error
		raw, tok, err = n.reg.Issue(tx, req.Subject, role, time.Duration(ttl), n.now())
		if err != nil {
			return err
		}
		_, err = audit.Append(tx, n.auditEntry(p, ActionTokenIssue, "token/"+tok.ID, req.Rationale, tok.Issued, map[string]string{"granted_role": string(role), "subject": tok.Subject, "expiry": tok.Expiry.Format(time.RFC3339)}))
		return err
	})
	if err != nil {
		return "", access.Token{}, err
	}
	return raw, tok, nil
}

// RevokeToken revokes token id; it is refused from the next request on.
func (n *Node) RevokeToken(p access.Principal, id, rationale string) (access.Token, error) {
	var tok access.Token
	err := n.db.Update(func(tx *bbolt.Tx) error {
		var err error
		tok, err = n.reg.Revoke(tx, id, n.now())
		if errors.Is(err, access.ErrUnknownToken) {
			return &api.Error{Status: http.StatusNotFound, Code: "not_found", Field: "id", Msg: err.Error(), Hint: "list tokens with GET /v1/tokens"}
		}
		if err != nil {
			return err
		}
		_, err = audit.Append(tx, n.auditEntry(p, ActionTokenRevoke, "token/"+id, rationale, n.now().UTC(), nil))
		return err
	})
	if err != nil {
		return access.Token{}, err
	}
	n.reg.Revoked(id)
	return tok, nil
}

// Tokens lists every token this node issued.
func (n *Node) Tokens() ([]access.Token, error) {
	var ts []access.Token
	err := n.db.View(func(tx *bbolt.Tx) error {
		var err error
		ts, err = access.List(tx)
		return err
	})
	return ts, err
}

// RotateKeys replaces the response-signing key. The retired public key stays in the
// JWKS, so responses and tokens signed before the rotation still verify.
func (n *Node) RotateKeys(p access.Principal, rationale string) (string, string, error) {
	n.rotate.Lock()
	defer n.rotate.Unlock()
	var oldKID, newKID string
	err := n.db.Update(func(tx *bbolt.Tx) error {
		var err error
		oldKID, newKID, err = identity.Rotate(n.cfg.DataDir)
		if err != nil {
			return err
		}
		_, err = audit.Append(tx, n.auditEntry(p, ActionKeysRotate, "key/"+newKID, rationale, n.now().UTC(), map[string]string{"retired": oldKID}))
		return err
	})
	if err != nil {
		return "", "", err
	}
	id, err := identity.Load(n.cfg.DataDir)
	if err != nil {
		return "", "", fmt.Errorf("reload keys after rotation: %w", err)
	}
	n.keys.Store(&keyPair{signer: id.Signer, keys: id.Keys})
	return oldKID, newKID, nil
}

var idEncoding = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

func (n *Node) newRecordID() (string, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("record id: %w", err)
	}
	return n.id.State + "-" + idEncoding.EncodeToString(b[:]), nil
}

// Key store: the sealing layer's wrapped data keys, in the node database.

var bucketSealKeys = []byte("seal_keys")

func ensureKeyBucket(tx *bbolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucketSealKeys)
	return err
}

// boltKeyStore implements seal.Store on the node database.
type boltKeyStore struct{ db *bbolt.DB }

func (s *boltKeyStore) PutKey(w seal.WrappedKey) error {
	v, err := json.Marshal(w)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketSealKeys).Put([]byte(w.ID), v) })
}

func (s *boltKeyStore) GetKey(id string) (seal.WrappedKey, bool, error) {
	var w seal.WrappedKey
	var found bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketSealKeys).Get([]byte(id))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &w)
	})
	return w, found, err
}

func (s *boltKeyStore) DeleteKey(id string) error {
	return s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketSealKeys).Delete([]byte(id)) })
}

func (s *boltKeyStore) ListKeys() ([]seal.WrappedKey, error) {
	var out []seal.WrappedKey
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSealKeys).ForEach(func(_, v []byte) error {
			var w seal.WrappedKey
			if err := json.Unmarshal(v, &w); err != nil {
				return err
			}
			out = append(out, w)
			return nil
		})
	})
	return out, err
}
