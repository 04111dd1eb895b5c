package sim

import (
	"math/rand/v2"
	"slices"
)

// link is the state of one directed link.
type link struct {
	inflight  int32 // packets sent on it and not yet delivered or dropped
	cut       bool
	clogUntil int64 // packets arriving before this wait until then
	dropNext  int32 // the next this many packets sent on it are dropped (DropNext)
}

// netChances are the NetConfig probabilities, precomputed.
type netChances struct {
	drop, dup, corrupt, tail, reorder chance
}

func (w *World) setNet(n NetConfig) {
	w.net = n.normalized()
	w.nc = netChances{
		drop:    newChance(n.DropProb),
		dup:     newChance(n.DupProb),
		corrupt: newChance(n.CorruptProb),
		tail:    newChance(n.TailProb),
		reorder: newChance(n.ReorderProb),
	}
}

// link returns h's link to the process with index to, growing h's table to
// cover every process added so far.
func (h *host) link(to int32) *link {
	if int(to) >= len(h.out) {
		h.out = append(h.out, make([]link, len(h.w.hosts)-len(h.out))...)
	}
	return &h.out[to]
}

// send is the network's half of Env.Send. The checks run in a fixed order,
// each drawing from the sender's stream only when its knob is on, so the
// same packets meet the same fate whatever other processes do.
func (w *World) send(h *host, to Addr, data []byte) {
	w.stats.Sent++
	ti := w.index(to)
	if ti < 0 {
		w.dropNow(h.addr, to, len(data), DropUnknown)
		return
	}
	if l := h.link(ti); l.cut {
		w.dropNow(h.addr, to, len(data), DropCut)
		return
	} else if l.dropNext > 0 {
		l.dropNext--
		w.dropHarness(h.addr, to, data)
		return
	}
	if w.nc.drop.hit(h.net) {
		w.dropNow(h.addr, to, len(data), DropRandom)
		return
	}
	w.transmit(h, ti, to, data, 0)
	if w.nc.dup.hit(h.net) {
		// The copy gets its own bytes: a receiver may modify what it got.
		w.stats.Duplicated++
		w.transmit(h, ti, to, append([]byte(nil), data...), FlagDup)
	}
}

// transmit puts one copy of a packet on the link h -> ti.
func (w *World) transmit(h *host, ti int32, to Addr, data []byte, flags Flags) {
	l := h.link(ti)
	if int(l.inflight) >= w.net.InflightPerLinkMax {
		w.dropNow(h.addr, to, len(data), DropOverflow)
		return
	}
	if len(data) > 0 && w.nc.corrupt.hit(h.net) {
		data = corrupt(h.net, data)
		flags |= FlagCorrupt
		w.stats.Corrupted++
	}
	l.inflight++
	it := item{kind: itemDeliver, flags: flags, from: h.idx, to: ti, sentNs: w.nowNs, data: data}
	w.q.push(w.nowNs+w.latency(h.net), it)
}

// latency draws one packet's delay: the uniform body or, with TailProb, the
// uniform tail beyond it, plus the reorder jitter with ReorderProb.
func (w *World) latency(r *rand.PCG) int64 {
	n := &w.net
	var d int64
	if w.nc.tail.hit(r) {
		d = between(r, n.LatencyMaxNs, n.TailMaxNs)
	} else {
		d = between(r, n.LatencyMinNs, n.LatencyMaxNs)
	}
	if w.nc.reorder.hit(r) {
		d += between(r, 0, n.ReorderJitterNs)
	}
	return d
}

// corrupt returns a copy of data with 1..3 distinct bits flipped, so the
// copy always differs from the original. data holds at least 8 bits, so the
// rejection of repeated positions always ends.
func corrupt(r *rand.PCG, data []byte) []byte {
	c := append([]byte(nil), data...)
	nbits := int64(len(c)) * 8
	k := int(between(r, 1, 3))
	var flipped [3]int64
	for n := 0; n < k; {
		b := between(r, 0, nbits-1)
		if slices.Contains(flipped[:n], b) {
			continue // flipping it again would undo it
		}
		flipped[n] = b
		n++
		c[b/8] ^= 1 << (b % 8)
	}
	return c
}

// deliver runs a packet's arrival. A link cut since the send loses it; a
// clogged link re-queues it at the clog's end; a paused receiver holds it.
func (w *World) deliver(it item) bool { return w.arrive(it, true) }

// arrive is deliver, with the clog optionally ignored: DeliverInFlight
// brings packets a clog holds.
func (w *World) arrive(it item, clog bool) bool {
	src, dst := w.hosts[it.from], w.hosts[it.to]
	l := &src.out[it.to]
	switch {
	case l.cut:
		l.inflight--
		w.dropNow(src.addr, dst.addr, len(it.data), DropCut)
		return true
	case clog && l.clogUntil > w.nowNs:
		w.stats.Clogged++
		w.q.push(l.clogUntil, it)
		return false
	case !dst.up || !dst.started:
		l.inflight--
		w.dropNow(src.addr, dst.addr, len(it.data), DropDown)
		return true
	case dst.paused:
		w.stats.Held++
		dst.held = append(dst.held, it)
		return false
	}
	l.inflight--
	w.stats.Delivered++
	w.depth++
	dst.inst.Receive(dst.env, src.addr, it.data)
	w.depth--
	w.ev = Event{Kind: KindDeliver, From: src.addr, To: dst.addr, Len: len(it.data),
		Flags: it.flags, SentNs: it.sentNs, Data: it.data}
	w.record(&w.ev)
	w.flush()
	return true
}

// dropNow counts and traces a lost packet.
func (w *World) dropNow(from, to Addr, n int, r DropReason) {
	w.stats.Dropped++
	switch r {
	case DropRandom:
		w.stats.DroppedRandom++
	case DropCut:
		w.stats.DroppedCut++
	case DropOverflow:
		w.stats.DroppedOverflow++
	case DropDown:
		w.stats.DroppedDown++
	case DropUnknown:
		w.stats.DroppedUnknown++
	}
	w.ev = Event{Kind: KindDrop, From: from, To: to, Len: n, Reason: r}
	w.emit(&w.ev)
}

// dropHarness counts and traces a packet the harness dropped; the event
// carries the payload, so a scenario can say which message it was.
func (w *World) dropHarness(from, to Addr, data []byte) {
	w.stats.Dropped++
	w.stats.DroppedHarness++
	w.ev = Event{Kind: KindDrop, From: from, To: to, Len: len(data), Reason: DropHarness, Data: data}
	w.emit(&w.ev)
}
