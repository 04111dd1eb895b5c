package main

import (
	"os"
	"runtime/debug"
)

// sweepGCPercent is the garbage collector's target while seeds run: a
// seed allocates about 1.4 MB and keeps almost none of it, so with the
// default 100 the collector ran every few seeds and took a third of a
// sweep's CPU (mark workers, write barriers, returning pages to the OS).
// At 400 the heap stays a few tens of MB and the sweep runs about 1.5x
// faster (BENCHMARKS.md). GOGC in the environment overrides it.
const sweepGCPercent = 400

// tuneGC sets the sweep's GC target unless GOGC says otherwise, and
// returns the function that restores the previous one.
func tuneGC() (restore func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	old := debug.SetGCPercent(sweepGCPercent)
	return func() { debug.SetGCPercent(old) }
}
