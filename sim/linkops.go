package sim

import "slices"

// Per-link packet control, for scripted scenarios: drop or deliver what is
// in flight on one link right now, or drop the next packets sent on it.
// A scenario uses them to stage one exact interleaving ("the Accept to 2
// is lost, the one to 3 arrives") that random faults would take many seeds
// to hit. They keep the world's rules: packets are taken in the order they
// would have arrived, so the result depends only on the world's state;
// every effect is traced (drops with reason DropHarness and the payload,
// early arrivals as deliveries flagged FlagEarly, DropNext as its own
// event); and a call with an unknown address, or from a callback or an
// observer, does nothing and counts in Stats.Ignored.

// DropInFlight drops every packet in flight on the link from -> to: those
// on their way (including any a clog holds back) and those a paused
// receiver holds. It returns how many it dropped.
func (w *World) DropInFlight(from, to Addr) int {
	fi, ti, ok := w.linkIndex(from, to)
	if !ok {
		return 0
	}
	src, dst := w.hosts[fi], w.hosts[ti]
	// Packets a paused receiver holds arrived before any still on the way.
	var gone []item
	kept := dst.held[:0]
	for _, it := range dst.held {
		if it.from == fi {
			gone = append(gone, it)
		} else {
			kept = append(kept, it)
		}
	}
	clear(dst.held[len(kept):])
	dst.held = kept
	for _, k := range w.inFlight(fi, ti) {
		gone = append(gone, w.take(k))
	}
	l := src.link(ti)
	for _, it := range gone {
		l.inflight--
		w.dropHarness(from, to, it.data)
	}
	return len(gone)
}

// DeliverInFlight makes every packet on its way on the link from -> to
// arrive now, in the order it would have arrived, ignoring a clog on the
// link (the clog stays for later packets). Each arrival otherwise follows
// the usual rules: a cut link loses it, a receiver that is down loses it, a
// paused receiver holds it. It returns how many packets it took off the
// link, whatever became of them.
func (w *World) DeliverInFlight(from, to Addr) int {
	fi, ti, ok := w.linkIndex(from, to)
	if !ok {
		return 0
	}
	ks := w.inFlight(fi, ti)
	for _, k := range ks {
		it := w.take(k)
		it.flags |= FlagEarly
		w.arrive(it, false)
	}
	return len(ks)
}

// DuplicateInFlight sends, now, a copy of every packet on its way on the
// link from -> to (as the network's own duplication would have, flagged
// FlagDup, with a fresh latency and its own bytes); the originals travel
// on. Copies obey the link's limits like any packet. It returns how many
// copies it sent.
func (w *World) DuplicateInFlight(from, to Addr) int {
	fi, ti, ok := w.linkIndex(from, to)
	if !ok {
		return 0
	}
	src := w.hosts[fi]
	ks := w.inFlight(fi, ti)
	for _, k := range ks {
		data := append([]byte(nil), w.q.items[k.slot].data...)
		w.stats.Duplicated++
		w.transmit(src, ti, to, data, FlagDup)
	}
	return len(ks)
}

// DropNext drops the next n packets sent on the link from -> to, at send,
// replacing any count set before; 0 cancels. Duplicates the network would
// have made of them are never made. Heal cancels it too. A negative n is
// ignored.
func (w *World) DropNext(from, to Addr, n int) {
	fi, ti, ok := w.linkIndex(from, to)
	if !ok {
		return
	}
	if n < 0 || n > inflightPerLinkLimit {
		w.stats.Ignored++
		return
	}
	w.hosts[fi].link(ti).dropNext = int32(n)
	w.ev = Event{Kind: KindDropNext, From: from, To: to, Len: n}
	w.record(&w.ev)
}

// InFlight reports how many packets are in flight on the link from -> to
// (on their way, held by a clog or by a paused receiver); 0 for unknown
// addresses.
func (w *World) InFlight(from, to Addr) int {
	fi, ti := w.index(from), w.index(to)
	if fi < 0 || ti < 0 {
		return 0
	}
	return int(w.hosts[fi].link(ti).inflight)
}

// linkIndex resolves a link for a state-changing call, counting the call as
// ignored if it cannot be made.
func (w *World) linkIndex(from, to Addr) (fi, ti int32, ok bool) {
	fi, ti = w.index(from), w.index(to)
	if fi < 0 || ti < 0 || w.busy() {
		w.stats.Ignored++
		return 0, 0, false
	}
	return fi, ti, true
}

// inFlight returns the queue keys of the packets on their way on the link
// fi -> ti, in the order they would arrive.
func (w *World) inFlight(fi, ti int32) []key {
	var ks []key
	for _, k := range w.q.heap {
		if it := &w.q.items[k.slot]; it.kind == itemDeliver && it.from == fi && it.to == ti {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(a, b key) int {
		switch {
		case a.less(b):
			return -1
		case b.less(a):
			return 1
		}
		return 0
	})
	return ks
}

// take removes the packet under k from the queue and returns it. Its slot
// becomes an empty item, which the queue skips silently when its time
// comes (as it skips a cancelled tick).
func (w *World) take(k key) item {
	it := w.q.items[k.slot]
	w.q.items[k.slot] = item{}
	return it
}
