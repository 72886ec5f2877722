// Package records holds a state's national records: licence applications and decisions,
// end-use checks, consignments and procurement awards. They are typed, validated,
// versioned and stored in the node's own bbolt file, and they never leave the node; what
// the federation sees is only what a marking releases, sealed, through other packages.
//
// The package has three layers, each usable on its own:
//
//   - Decode reads a request body strictly (size, UTF-8, depth, duplicate keys, unknown
//     and mistyped top-level fields, trailing data), because it is the trust boundary.
//   - Validate checks an Input against the schema of its kind and the federation policy
//     and returns a Checked record: canonical JSON per field, each with its marking.
//   - Create, Correct, Get, History, List and Count keep Stored records (whose field
//     values the caller has sealed) in bbolt, always inside the caller's transaction, so
//     that the caller can append the audit entry in the same commit.
//
// # Storage layout
//
// Three buckets, created by EnsureBuckets:
//
//	"records"          id -> JSON index entry {latest version, creation seq, kind, and
//	                   the latest version's actor and created time}; lets List filter
//	                   without decoding every record.
//	"record_versions"  id 0x00 version (8-byte big-endian) -> the version in this
//	                   package's own binary encoding (codec.go): id, kind, actor,
//	                   rationale, version, created, then each field's marking and its
//	                   sealed value (or, for PUBLIC, its JSON). Written once per version
//	                   and never overwritten: a correction appends. Ids cannot contain
//	                   0x00, so one id's versions are a contiguous, ordered range.
//	"record_seq"       seq (8-byte big-endian, from the bucket's NextSequence) -> id, in
//	                   the order records were first created; List walks it, and its
//	                   cursor is a position in it.
//
// A correction never changes a record's kind or its place in the creation order.
package records
