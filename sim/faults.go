package sim

// Process faults. Each is traced as one event. A call with an unknown
// address, one that does not apply in the process's state (crashing a
// process that is down, restarting one that is up, pausing one that is
// paused or has not booted yet), or one made from a callback or an
// observer does nothing and counts in Stats.Ignored. Restart is the only
// way back up: there is no implicit reboot.

// Crash stops the process at a: its memory and pending ticks are gone, the
// packets held for it while paused are dropped, and its disk loses every
// unsynced write except, with Config.DiskTornProb, a torn prefix.
// Packets already in flight to it are dropped if they arrive while it is
// down, and delivered if they arrive after a restart.
func (w *World) Crash(a Addr) {
	h := w.host(a)
	if h == nil || !h.up {
		w.refuse(h)
		return
	}
	h.up, h.started, h.paused = false, false, false
	h.inst, h.env = nil, nil
	h.tickGen++
	w.stats.Crashes++
	w.stats.DiskBytesLost += uint64(h.disk.crash(newChance(w.cfg.DiskTornProb)))
	w.ev = Event{Kind: KindCrash, Proc: a}
	w.record(&w.ev)
	for i := range h.held {
		it := &h.held[i]
		src := w.hosts[it.from]
		src.out[it.to].inflight--
		w.dropNow(src.addr, a, len(it.data), DropDown)
	}
	clear(h.held)
	h.held = h.held[:0]
}

// Restart boots a new instance from the factory at a, which is down; its
// Start sees exactly the durable disk.
func (w *World) Restart(a Addr) {
	h := w.host(a)
	if h == nil || h.up {
		w.refuse(h)
		return
	}
	inst := h.factory()
	if inst == nil {
		w.stats.Ignored++
		return
	}
	h.up = true
	w.start(h, inst)
	w.stats.Restarts++
	w.ev = Event{Kind: KindRestart, Proc: a}
	w.record(&w.ev)
	w.flush()
}

// LoseDisk destroys the disk of the process at a, which is down: every
// file is gone, durable or not (a wiped or replaced disk). What comes
// back up on it starts from nothing.
func (w *World) LoseDisk(a Addr) {
	h := w.host(a)
	if h == nil || h.up {
		w.refuse(h)
		return
	}
	clear(h.disk.files)
	w.stats.DiskLosses++
	w.ev = Event{Kind: KindDiskLoss, Proc: a}
	w.record(&w.ev)
}

// Pause freezes the process at a, like SIGSTOP or a long GC pause: no
// ticks, and packets that arrive wait (still counting as in flight on their
// link) until Resume. Crashing a paused process drops what it holds.
func (w *World) Pause(a Addr) {
	h := w.host(a)
	if h == nil || !h.up || !h.started || h.paused {
		w.refuse(h)
		return
	}
	w.settle(h) // the ticks due so far count; none while paused
	h.paused = true
	h.tickGen++
	w.stats.Pauses++
	w.ev = Event{Kind: KindPause, Proc: a}
	w.record(&w.ev)
}

// Resume unfreezes the process at a: the packets it held arrive now, in the
// order they arrived, and its ticks resume one period later. That first
// tick comes even if the process had asked to sleep longer (WakeAtTick):
// whatever changed while it was frozen, it gets to look.
func (w *World) Resume(a Addr) {
	h := w.host(a)
	if h == nil || !h.up || !h.paused {
		w.refuse(h)
		return
	}
	h.paused = false
	for _, it := range h.held {
		w.q.push(w.nowNs, it)
	}
	clear(h.held)
	h.held = h.held[:0]
	h.nextTick = w.nowNs + h.periodNs
	h.wakeTick = 0
	w.scheduleWake(h)
	w.ev = Event{Kind: KindResume, Proc: a}
	w.record(&w.ev)
}

// SetDrift sets the tick-period multiplier of the process at a (0.9 ticks
// faster, 1.1 slower). It takes effect from the tick after the pending one
// and survives restarts, as a property of the machine's clock. A factor
// outside (0, 100] is ignored.
func (w *World) SetDrift(a Addr, factor float64) {
	h := w.host(a)
	if h == nil || !validFactor(factor) {
		w.refuse(h)
		return
	}
	w.settle(h)
	h.factor = factor
	h.periodNs = periodNs(h.tickNs, factor)
	// The tick due next keeps its time; a callback asked for beyond it
	// moves with the new period.
	if h.up && h.started && !h.paused && h.pendingWake > h.ticks+1 {
		w.scheduleWake(h)
	}
	w.ev = Event{Kind: KindDrift, Proc: a, Factor: factor}
	w.record(&w.ev)
}

// Ticks is how many ticks have come due to the process at a in its
// current incarnation (0 while it is down); a restart starts again at 0.
// It only reads the clock, so an observer or a callback may call it.
func (w *World) Ticks(a Addr) int64 {
	i := w.index(a)
	if i < 0 {
		return 0
	}
	h := w.hosts[i]
	if !h.up {
		return 0
	}
	w.settle(h)
	return h.ticks
}

// Up reports whether the process at a is up (booted or booting, paused or
// not); false for an unknown address.
func (w *World) Up(a Addr) bool {
	i := w.index(a)
	return i >= 0 && w.hosts[i].up
}

// Paused reports whether the process at a is paused.
func (w *World) Paused(a Addr) bool {
	i := w.index(a)
	return i >= 0 && w.hosts[i].paused
}

// Drift returns the tick-period multiplier of the process at a (0 if
// unknown).
func (w *World) Drift(a Addr) float64 {
	if i := w.index(a); i >= 0 {
		return w.hosts[i].factor
	}
	return 0
}

// refuse counts a call refused for the process's state; w.host has already
// counted the calls it refused (h == nil).
func (w *World) refuse(h *host) {
	if h != nil {
		w.stats.Ignored++
	}
}
