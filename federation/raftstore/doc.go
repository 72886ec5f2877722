// Package raftstore is the federation's raft log store and stable store:
// raft.LogStore and raft.StableStore on one bbolt file.
//
// It exists because the usual choice, github.com/hashicorp/raft-boltdb/v2,
// cannot be built here: its v2.3.1 imports go-metrics/compat, which
// go-metrics v0.7.0 removed, and raft v1.8 and memberlist v0.7 need
// go-metrics v0.7. Writing the store ourselves also lets it do exactly what a
// node needs and no more: one bbolt write transaction, hence one commit and
// one durability point, per StoreLogs batch however many entries it carries;
// a checksummed, versioned encoding of our own instead of msgpack; and strict
// decoding that turns a damaged file into an error naming the index rather
// than a panic or a silently different entry.
//
// # File layout
//
// One bbolt file (mode 0600) with two buckets:
//
//   - "logs": key = log index as 8 bytes big-endian (so byte order is
//     numeric order), value = the entry in the encoding below.
//   - "conf": raft's stable store (current term, last vote term and
//     candidate); SetUint64 values are 8 bytes big-endian.
//
// # Log entry encoding (version 1)
//
//	version  1 byte   0x01
//	flags    1 byte   bit 0: AppendedAt present; other bits must be zero
//	type     1 byte   raft.LogType
//	index    uvarint  equal to the key
//	term     uvarint
//	data     uvarint length, bytes
//	ext      uvarint length, bytes (raft.Log.Extensions)
//	appended 8 bytes  AppendedAt as int64 Unix nanoseconds, only if flag bit 0
//	crc      4 bytes  CRC-32C (Castagnoli) of everything before it
//
// Decoding rejects short values, checksum mismatches, unknown versions and
// flags, non-minimal varints, lengths beyond the value, trailing bytes and a
// stored index that differs from the key; every such error wraps ErrCorrupt.
// A new layout gets a new version byte; version 1 values stay readable.
//
// # Durability and consistency
//
// Writes are fsynced unless Options.NoSync is set (tests and benchmarks
// only). StoreLogs validates and encodes the whole batch first, then writes
// it in one transaction: either every entry is stored or none is. Readers
// run concurrently with the writer on bbolt's consistent snapshots, and every
// byte slice returned is a copy, because bbolt memory is valid only inside
// its transaction.
//
// The store does not implement raft.MonotonicLogStore; see Store for why.
package raftstore
