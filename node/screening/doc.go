// Package screening is the node's screening service: the registry of screening lists
// (imported public lists, national lists and the consensus watchlist), their persistence
// in the node database, one screen.Index per list, and the local alerts that re-screening
// raises.
//
// The matching itself is package screen; the formats of public lists are package lists.
// This package decides what a node keeps and when it changes:
//
//   - A list is replaced as a whole. An import is read and validated completely, its
//     index is built off to the side, and only then is it written to the node database
//     (with the caller's audit entry, in one transaction) and swapped in. Until that
//     moment the previous version keeps serving, so a malformed or truncated file never
//     switches screening off.
//   - Importing the same version again changes nothing (idempotent); the same version
//     with different content is refused, because two different lists under one version
//     would make the audit trail's list versions meaningless.
//   - A search uses one Snapshot of the lists from start to end, so the versions it
//     reports, and the audit trail records, are exactly the ones it searched.
//   - When a list is swapped, the parties of pending national records are re-screened
//     against it, and each new hit (a record and a listed entity never met before) is
//     kept as a local alert.
//
// # Storage layout
//
// Bucket "screening_lists" holds one nested bucket per list name. Its key "meta" is the
// JSON Meta; keys "e" followed by a 4-byte big-endian chunk number hold the entities,
// ChunkSize at a time, as gzip-compressed JSON lines, sorted by ID. A million-name list
// is a few hundred chunks of about a hundred kilobytes, written in one transaction, read
// back one chunk at a time at start-up.
//
// Bucket "screening_alerts" maps seq (8-byte big-endian) to the JSON Alert; bucket
// "screening_alert_keys" maps record id 0x00 list 0x00 entity id to that seq, so the same
// record and entity never raise a second alert. Alerts keep no party name: the name stays
// sealed in the record, and is opened when an alert is read, so shredding a record's keys
// also removes the name from its alerts.
package screening
