package lists

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/entente/entente/node/screen"
)

// version digests the canonical encoding of the sorted entities: their JSON form, one per
// line, in ID order. encoding/json writes struct fields in declaration order and tidy has
// removed every source of non-determinism (duplicates, empty slices), so the digest
// depends on the content only and not on how or when the files were read.
func version(entities []screen.Entity) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for i := range entities {
		// Encoding a screen.Entity into a hash cannot fail: it has only strings and
		// slices of strings and structs of strings.
		_ = enc.Encode(&entities[i])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
