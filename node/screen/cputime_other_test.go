//go:build !unix

package screen_test

import "time"

// cpuTime is not available here; the benchmark then reports wall-clock throughput.
func cpuTime() time.Duration { return 0 }
