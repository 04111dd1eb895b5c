package sim

import (
	"maps"
	"math/rand/v2"
	"slices"
)

// Disk is a process's simulated storage: named files, a durable part and a
// volatile tail per file. It belongs to the address, not the instance: it
// survives crashes and restarts with exactly its durable content. Writes
// are visible to the process at once; only Sync, Replace and Remove make
// them durable.
//
// The model is an append-only log per file on a disk that writes in order:
// at a crash, a file keeps its durable bytes and, with Config.DiskTornProb,
// a random non-empty prefix of its unsynced tail (a torn write, which a
// checksummed log must detect). A file that was never made durable and
// keeps no bytes disappears.
type Disk struct {
	files map[string]*file // looked up by name; iterated only via sorted names
	rnd   *rand.PCG        // torn-write choices, this address's own stream
	stats *Stats
}

type file struct {
	data    []byte // what the process sees
	durable int    // data[:durable] survives a crash
	onDisk  bool   // the file itself survives a crash
}

// Append adds data at the end of the file, creating it if needed. The bytes
// are copied; they are durable only after Sync.
func (d *Disk) Append(name string, data []byte) {
	f := d.files[name]
	if f == nil {
		f = &file{}
		d.files[name] = f
	}
	f.data = append(f.data, data...)
	d.stats.DiskAppends++
	d.stats.DiskBytesWritten += uint64(len(data))
}

// Sync makes every write to the file durable (fsync). Syncing a missing
// file does nothing but is counted, as a real fsync would cost.
func (d *Disk) Sync(name string) {
	d.stats.DiskSyncs++
	if f := d.files[name]; f != nil {
		f.durable = len(f.data)
		f.onDisk = true
	}
}

// Replace atomically replaces the file's content with a copy of data,
// durable at once. It models write-temp, fsync, rename, fsync-dir, and
// counts as one sync.
func (d *Disk) Replace(name string, data []byte) {
	f := d.files[name]
	if f == nil {
		f = &file{}
		d.files[name] = f
	}
	// The file's own array is reused: nothing outside the disk holds it
	// (Read copies), and a log that is compacted and grows again would
	// otherwise regrow from nothing every time.
	f.data = append(f.data[:0], data...)
	f.durable, f.onDisk = len(f.data), true
	d.stats.DiskSyncs++
	d.stats.DiskBytesWritten += uint64(len(data))
}

// Remove deletes the file, durable at once.
func (d *Disk) Remove(name string) {
	delete(d.files, name)
}

// Read returns a copy of what the process sees (durable and unsynced
// bytes), or nil if the file does not exist.
func (d *Disk) Read(name string) []byte {
	f := d.files[name]
	if f == nil {
		return nil
	}
	return append([]byte{}, f.data...)
}

// Size returns the length of what the process sees, or -1 if the file does
// not exist.
func (d *Disk) Size(name string) int {
	if f := d.files[name]; f != nil {
		return len(f.data)
	}
	return -1
}

// Unsynced returns how many bytes of the file are not yet durable.
func (d *Disk) Unsynced(name string) int {
	if f := d.files[name]; f != nil {
		return len(f.data) - f.durable
	}
	return 0
}

// Files returns the names of the existing files, sorted.
func (d *Disk) Files() []string { return slices.Sorted(maps.Keys(d.files)) }

// crash applies a crash to every file, in name order so that the torn-write
// draws do not depend on map order, and returns the bytes lost.
func (d *Disk) crash(torn chance) (lost int) {
	for _, name := range d.Files() {
		f := d.files[name]
		tail := len(f.data) - f.durable
		keep := 0
		if tail > 0 && torn.hit(d.rnd) {
			keep = int(between(d.rnd, 1, int64(tail)))
		}
		lost += tail - keep
		// Full slice expression: later appends must not write into the old
		// array's lost tail, which nothing else holds but keeps it clean.
		f.data = f.data[: f.durable+keep : f.durable+keep]
		f.durable = len(f.data)
		if !f.onDisk && len(f.data) == 0 {
			delete(d.files, name)
			continue
		}
		f.onDisk = true
	}
	return lost
}
