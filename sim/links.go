package sim

import "slices"

// Network faults. Links are directed; a cut link loses every packet that is
// sent on it or arrives on it while it is cut. Calls with unknown
// addresses ignore those addresses; calls from a callback or an observer
// are ignored and count in Stats.Ignored.

// Partition cuts, both ways, every link between processes of different
// groups, replacing every cut made before (by Cut, Isolate or Partition);
// clogs stay. An address named in no group keeps all its links (clients
// usually reach both sides); name it in a group to separate it. An address
// named twice belongs to the first group naming it; unknown addresses and
// empty groups are left out of the trace.
func (w *World) Partition(groups ...[]Addr) {
	if w.busy() {
		w.stats.Ignored++
		return
	}
	member := make([]int, len(w.hosts))
	for i := range member {
		member[i] = -1
	}
	var norm [][]Addr
	for _, g := range groups {
		var ng []Addr
		for _, a := range g {
			if i := w.index(a); i >= 0 && member[i] < 0 {
				member[i] = len(norm)
				ng = append(ng, a)
			}
		}
		if len(ng) > 0 {
			slices.Sort(ng)
			norm = append(norm, ng)
		}
	}
	w.setCuts(func(i, j int) bool {
		return member[i] >= 0 && member[j] >= 0 && member[i] != member[j]
	})
	w.ev = Event{Kind: KindPartition, Groups: norm}
	w.record(&w.ev)
}

// setCuts sets every link's cut flag to cut(from index, to index).
func (w *World) setCuts(cut func(i, j int) bool) {
	for i, h := range w.hosts {
		for j := range w.hosts {
			c := cut(i, j)
			if c || j < len(h.out) {
				h.link(int32(j)).cut = c
			}
		}
	}
}

// Cut cuts the one-way link from -> to, adding to the cuts in place.
func (w *World) Cut(from, to Addr) {
	fi, ti := w.index(from), w.index(to)
	if fi < 0 || ti < 0 || w.busy() {
		w.stats.Ignored++
		return
	}
	w.hosts[fi].link(ti).cut = true
	w.ev = Event{Kind: KindCut, From: from, To: to}
	w.record(&w.ev)
}

// Isolate cuts every link to and from a (except a's link to itself),
// adding to the cuts in place. Processes added later are not cut off.
func (w *World) Isolate(a Addr) {
	ai := w.index(a)
	if ai < 0 || w.busy() {
		w.stats.Ignored++
		return
	}
	for j, h := range w.hosts {
		if int32(j) != ai {
			h.link(ai).cut = true
			w.hosts[ai].link(int32(j)).cut = true
		}
	}
	w.ev = Event{Kind: KindIsolate, Proc: a}
	w.record(&w.ev)
}

// Heal removes every cut, every clog and every pending DropNext: the
// network is whole again (its random knobs aside, which SetNet controls).
// Packets a clog already holds keep their release time.
func (w *World) Heal() {
	if w.busy() {
		w.stats.Ignored++
		return
	}
	for _, h := range w.hosts {
		for j := range h.out {
			h.out[j].cut = false
			h.out[j].clogUntil = 0
			h.out[j].dropNext = 0
		}
	}
	w.ev = Event{Kind: KindHeal}
	w.record(&w.ev)
}

// Clog holds the packets that arrive on the link from -> to before untilNs
// and delivers them then, in arrival order (unless the link is cut by
// then). A later Clog of the same link replaces the earlier end time.
func (w *World) Clog(from, to Addr, untilNs int64) {
	fi, ti := w.index(from), w.index(to)
	if fi < 0 || ti < 0 || w.busy() {
		w.stats.Ignored++
		return
	}
	w.hosts[fi].link(ti).clogUntil = untilNs
	w.ev = Event{Kind: KindClog, From: from, To: to, UntilNs: untilNs}
	w.record(&w.ev)
}

// Net returns the network knobs in use (with defaults filled in).
func (w *World) Net() NetConfig { return w.net }

// SetNet replaces the network knobs, e.g. to zero drop, dup and corruption
// for a liveness phase. Packets in flight keep the fate already drawn.
func (w *World) SetNet(n NetConfig) error {
	if w.busy() {
		return errBusy
	}
	if err := n.validate(); err != nil {
		return err
	}
	w.setNet(n)
	nc := w.net
	w.ev = Event{Kind: KindNet, Net: &nc}
	w.record(&w.ev)
	return nil
}
