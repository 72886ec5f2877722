package raftstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

const benchEntrySize = 256

func benchLogs(first uint64, n int) []*raft.Log {
	logs := make([]*raft.Log, n)
	data := make([]byte, benchEntrySize)
	for i := range logs {
		logs[i] = &raft.Log{
			Index:      first + uint64(i),
			Term:       1,
			Type:       raft.LogCommand,
			Data:       data,
			AppendedAt: time.Now(),
		}
	}
	return logs
}

// BenchmarkStoreLogs measures what raft pays per append with fsync on: a
// batch of 1 is a lightly loaded leader, 64 (raft's default MaxAppendEntries)
// a loaded one. One op is one batch; ns/entry shows how the single commit is
// shared across the batch.
func BenchmarkStoreLogs(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, _ := openStore(b, Options{})
			b.SetBytes(int64(batch * benchEntrySize))
			b.ReportAllocs()
			next := uint64(1)
			for b.Loop() {
				b.StopTimer()
				logs := benchLogs(next, batch)
				next += uint64(batch)
				b.StartTimer()
				if err := s.StoreLogs(logs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/entry")
		})
	}
}

// BenchmarkGetLog measures a read of one 256-byte entry from a 10,000-entry
// log, as a leader does for every entry it replicates to a lagging follower.
func BenchmarkGetLog(b *testing.B) {
	const n = 10000
	s, _ := openStore(b, Options{NoSync: true})
	for i := 0; i < n; i += 500 {
		if err := s.StoreLogs(benchLogs(uint64(i+1), 500)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(benchEntrySize)
	b.ReportAllocs()
	var l raft.Log
	i := 0
	for b.Loop() {
		// A stride through the whole log so the reads are not all on one page.
		idx := uint64(i*7919%n + 1)
		i++
		if err := s.GetLog(idx, &l); err != nil {
			b.Fatal(err)
		}
	}
}
