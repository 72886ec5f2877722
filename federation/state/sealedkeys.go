package state

import (
	"encoding/json"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/crypto/seal"
	"github.com/entente/entente/federation/command"
)

// sealedKeysRule checks that every sealed value p carries is sealed with a data key of
// p's own subject from the proposing state: a key the command carries, or one the
// federation already holds for that subject. A ciphertext copied from another entry or
// field names another subject's key, so the command is refused, on the leader before it
// is proposed and on every replica when it is applied. stored returns a held key's
// record, or nil.
func sealedKeysRule(origin string, p command.Payload, stored func(id string) []byte) error {
	subject, fields, carried := command.SealedValues(p)
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names) // the first broken field is named, the same on every replica
	for _, name := range names {
		id := fields[name].Key
		if i := slices.IndexFunc(carried, func(k seal.WrappedKey) bool { return k.ID == id }); i >= 0 {
			if err := subjectKeyRule(carried[i], subject, origin); err != nil {
				return err
			}
			continue
		}
		var k seal.WrappedKey
		if raw := stored(id); raw == nil {
			return reject("%s is sealed with data key %s, which neither the command carries nor the federation holds", name, id)
		} else if err := json.Unmarshal(raw, &k); err != nil {
			return reject("%s: data key %s is unreadable: %v", name, id, err)
		}
		if k.Subject != subject || k.Origin != origin {
			return reject("%s is sealed with data key %s, which belongs to %s from %s, not to %s from %s: a value moved from elsewhere", name, id, k.Subject, k.Origin, subject, origin)
		}
	}
	return nil
}

// CheckSealedKeys applies sealedKeysRule to a command before it is proposed, against the
// keys this replica holds now. Applying the command checks again, against the keys held
// at its place in the log.
func (s *State) CheckSealedKeys(c *command.Command, p command.Payload) error {
	return s.db.View(func(tx *bbolt.Tx) error {
		return sealedKeysRule(c.Origin, p, func(id string) []byte { return tx.Bucket(bKeys).Get([]byte(id)) })
	})
}
