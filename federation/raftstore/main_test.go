package raftstore

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: the raft
// cluster test starts many, and a store that is not closed would keep bbolt's
// file lock.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
