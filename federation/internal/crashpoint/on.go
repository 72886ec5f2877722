//go:build crashpoints

package crashpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

var (
	once  sync.Once
	name  string
	nth   = 1
	mu    sync.Mutex
	count int
)

// Hit kills the process with SIGKILL, as a crash would, the Nth time the point named in
// ENTENTE_CRASHPOINT is reached.
func Hit(point string) {
	once.Do(func() {
		n, at, _ := strings.Cut(os.Getenv(EnvVar), ":")
		name = n
		if v, err := strconv.Atoi(at); err == nil && v > 0 {
			nth = v
		}
	})
	if point != name {
		return
	}
	mu.Lock()
	count++
	hit := count == nth
	mu.Unlock()
	if hit {
		fmt.Fprintf(os.Stderr, "%s%s\n", ExitMarker, point)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
