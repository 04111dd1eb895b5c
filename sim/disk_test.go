package sim_test

import (
	"bytes"
	"slices"
	"testing"

	"paxlock/sim"
)

// diskWorld hosts one process at 1 whose Start runs onStart, boots it, and
// returns the world and the probe.
func diskWorld(t *testing.T, seed uint64, tornProb float64, onStart func(env sim.Env)) (*sim.World, *probe) {
	w := newWorld(t, seed, sim.Config{DiskTornProb: tornProb})
	p := add(t, w, 1, tickBig, func(*probe) *proc { return &proc{onStart: onStart} })
	w.RunFor(1)
	return w, p
}

func TestDiskSyncedSurvivesUnsyncedLost(t *testing.T) {
	first := true
	w, p := diskWorld(t, 30, 0, func(env sim.Env) {
		if !first {
			return
		}
		first = false
		d := env.Disk()
		d.Append("log", []byte("durable"))
		d.Sync("log")
		d.Append("log", []byte("-volatile"))
		d.Append("tmp", []byte("never synced"))
		d.Replace("state", []byte("v1"))
		if got := string(d.Read("log")); got != "durable-volatile" {
			t.Errorf("before crash Read(log) = %q, want the unsynced bytes visible", got)
		}
	})
	w.Crash(1)
	w.Restart(1)
	want := map[string]string{"log": "durable", "state": "v1"}
	if len(p.startDisk) != len(want) {
		t.Errorf("after restart files = %v, want %v", keys(p.startDisk), want)
	}
	for n, v := range want {
		if got := string(p.startDisk[n]); got != v {
			t.Errorf("after restart Read(%s) = %q, want %q", n, got, v)
		}
	}
	if st := w.Stats(); st.DiskBytesLost != uint64(len("-volatile")+len("never synced")) || st.DiskSyncs != 2 {
		t.Errorf("stats: lost %d bytes, %d syncs; want %d and 2", st.DiskBytesLost, st.DiskSyncs, len("-volatile")+len("never synced"))
	}
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestDiskTornPrefix crashes with unsynced appends under many seeds: the
// file must always be the durable part plus a prefix of the unsynced tail,
// and both a clean loss and a torn write must occur.
func TestDiskTornPrefix(t *testing.T) {
	durable := []byte("header|")
	tail := []byte("record-one|record-two|record-three")
	var clean, torn, whole int
	for seed := uint64(0); seed < 200; seed++ {
		w := newWorld(t, seed, sim.Config{DiskTornProb: 0.5})
		add(t, w, 1, tickBig, plain)
		d := w.Disk(1)
		d.Append("wal", durable)
		d.Sync("wal")
		d.Append("wal", tail[:10])
		d.Append("wal", tail[10:])
		w.RunFor(1)
		w.Crash(1)
		got := d.Read("wal")
		if !bytes.HasPrefix(got, durable) || !bytes.HasPrefix(tail, got[len(durable):]) {
			t.Fatalf("seed %d: after crash %q, want durable part plus a prefix of %q", seed, got, tail)
		}
		switch kept := len(got) - len(durable); {
		case kept == 0:
			clean++
		case kept == len(tail):
			whole++
		default:
			torn++
		}
		if d.Unsynced("wal") != 0 {
			t.Fatalf("seed %d: bytes left after a crash must be durable", seed)
		}
	}
	if clean < 50 || torn < 50 {
		t.Errorf("over 200 crashes: %d clean losses, %d torn, %d whole; want both clean and torn often", clean, torn, whole)
	}
}

func TestDiskReplaceRemoveFiles(t *testing.T) {
	w := newWorld(t, 31, sim.Config{DiskTornProb: 1})
	add(t, w, 1, tickBig, plain)
	d := w.Disk(1)
	d.Append("a", []byte("unsynced"))
	d.Replace("a", []byte("replaced"))
	d.Replace("b", []byte("gone"))
	d.Remove("b")
	d.Append("c", nil)
	d.Sync("c")
	if got := d.Files(); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("Files() = %v, want [a c]", got)
	}
	w.Crash(1)
	if got := string(d.Read("a")); got != "replaced" {
		t.Errorf("after crash a = %q, want the replaced content", got)
	}
	if got := d.Files(); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("after crash Files() = %v, want [a c] (a synced empty file survives)", got)
	}
	if d.Size("b") != -1 || d.Read("b") != nil {
		t.Error("removed file still readable")
	}
	buf := d.Read("a")
	buf[0] = 'X'
	if string(d.Read("a")) != "replaced" {
		t.Error("Read returned the disk's own bytes")
	}
}
