package sim

// Stats counts what happened in a world. Dropped is the sum of the
// Dropped* counters by reason.
type Stats struct {
	Events uint64 // traced events of every kind

	Sent       uint64 // Env.Send calls
	Delivered  uint64 // packets handed to Receive
	Duplicated uint64 // extra copies made by DupProb
	Corrupted  uint64 // copies with flipped bits
	Clogged    uint64 // arrivals deferred by a clog
	Held       uint64 // arrivals held for a paused receiver

	Dropped         uint64
	DroppedRandom   uint64
	DroppedCut      uint64
	DroppedOverflow uint64
	DroppedDown     uint64
	DroppedUnknown  uint64
	DroppedHarness  uint64 // DropInFlight and DropNext

	Ticks    uint64
	Actions  uint64
	Starts   uint64 // first Starts (boots)
	Restarts uint64
	Crashes  uint64
	// DiskLosses counts LoseDisk calls that took effect.
	DiskLosses uint64
	Pauses     uint64

	DiskAppends      uint64
	DiskSyncs        uint64 // Sync calls and Replaces
	DiskBytesWritten uint64 // appended and replaced bytes
	DiskBytesLost    uint64 // unsynced bytes lost to crashes

	Ignored uint64 // calls that did nothing (see the package doc)
}
