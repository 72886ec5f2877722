//go:build !crashpoints

package crashpoint

// Hit does nothing: crash points are compiled in only with the crashpoints build tag.
func Hit(string) {}
