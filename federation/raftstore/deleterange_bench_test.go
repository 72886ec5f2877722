package raftstore

import (
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

// BenchmarkDeleteRange50k compacts 50,000 entries of 1.5 KiB, as raft does after a
// snapshot. raft.db takes no writes while it runs, so it must stay linear in the entries.
func BenchmarkDeleteRange50k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := Open(filepath.Join(b.TempDir(), "raft.db"), Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		data := make([]byte, 1536)
		batch := make([]*raft.Log, 0, 1000)
		for idx := uint64(1); idx <= 50000; idx++ {
			batch = append(batch, &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: data})
			if len(batch) == cap(batch) {
				if err := s.StoreLogs(batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		b.StartTimer()
		if err := s.DeleteRange(1, 50000); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if first, _ := s.FirstIndex(); first != 0 {
			b.Fatalf("entries left after DeleteRange: first index %d", first)
		}
		s.Close()
	}
}
