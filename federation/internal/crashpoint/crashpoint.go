// Package crashpoint kills the process at named points of the federation's write paths
// (a state transaction before and after it commits, a raft log append before it
// commits, a snapshot half written, a snapshot restore before and after the swap), so
// that tests can show a node recovers from a crash at exactly the worst moment rather
// than wherever a random kill lands.
//
// It is compiled in only with the build tag crashpoints, which the test harness builds a
// separate binary with; in every other build Hit is an empty function and the
// environment is never read.
package crashpoint

// Names of the crash points.
const (
	StateBeforeCommit = "state-before-commit"  // an apply batch written, not committed
	StateAfterCommit  = "state-after-commit"   // committed, raft not yet told
	LogBeforeCommit   = "log-before-commit"    // a raft log append written, not committed
	SnapshotPersist   = "snapshot-persist"     // a snapshot half written to its sink
	RestoreBeforeSwap = "restore-before-swap"  // a snapshot received and checked, not swapped in
	RestoreAfterSwap  = "restore-after-swap"   // the state file replaced, not reopened
	EnvVar            = "ENTENTE_CRASHPOINT"   // NAME or NAME:N, the Nth time the point is reached
	ExitMarker        = "crashpoint reached: " // written to stderr just before the kill
)
