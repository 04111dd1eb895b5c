package explore

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"paxlock/lockmgr"
	"paxlock/paxos"
)

// Kind is what a step does.
type Kind uint8

const (
	Deliver Kind = iota // deliver one message in flight
	Drop                // lose it
	Dup                 // put a second copy of it in flight
	Timer               // fire one process's next timer
	Crash               // crash a replica (its unsynced records are lost)
	Restart             // restart a crashed replica from its disk
	Invoke              // a client starts its next operation
)

var kindNames = [...]string{"deliver", "drop", "dup", "timer", "crash", "restart", "invoke"}

func (k Kind) String() string { return kindNames[k] }

// Step is one choice. A message is named by its link and its place among
// the messages in flight on that link, oldest first (N); a process by its
// address: replica id, or client index + 1000 (printed c1, c2, ...).
type Step struct {
	Kind     Kind
	From, To lockmgr.Addr // Deliver, Drop, Dup: the link
	N        int          // Deliver, Drop, Dup: which message of the link
	Proc     lockmgr.Addr // Timer, Crash, Restart, Invoke
}

// String is the step as a scenario line, which ParseStep reads back.
func (s Step) String() string {
	switch s.Kind {
	case Deliver, Drop, Dup:
		return fmt.Sprintf("%v %s->%s #%d", s.Kind, procName(s.From), procName(s.To), s.N)
	}
	return fmt.Sprintf("%v %s", s.Kind, procName(s.Proc))
}

func procName(a lockmgr.Addr) string {
	if a >= clientAddrBase {
		return "c" + strconv.Itoa(int(a-clientAddrBase)+1)
	}
	return strconv.Itoa(int(a))
}

func parseProc(s string) (lockmgr.Addr, error) {
	if c, ok := strings.CutPrefix(s, "c"); ok {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > ClientsMax {
			return 0, fmt.Errorf("client %q: want c1..c%d", s, ClientsMax)
		}
		return lockmgr.Addr(clientAddrBase + n - 1), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > ReplicasMax {
		return 0, fmt.Errorf("process %q: want a replica 1..%d or a client c1..c%d", s, ReplicasMax, ClientsMax)
	}
	return lockmgr.Addr(n), nil
}

// ParseStep reads a step as String prints it ("deliver 1->c2 #0",
// "timer 3", "invoke c1"); anything after the step (a description) is
// ignored.
func ParseStep(line string) (Step, error) {
	f := strings.Fields(line)
	if len(f) < 2 {
		return Step{}, fmt.Errorf("step %q: want KIND PROCESS or KIND FROM->TO #N", line)
	}
	k := -1
	for i, n := range kindNames {
		if n == f[0] {
			k = i
		}
	}
	if k < 0 {
		return Step{}, fmt.Errorf("step %q: unknown kind %q (want one of %s)", line, f[0], strings.Join(kindNames[:], ", "))
	}
	s := Step{Kind: Kind(k)}
	switch s.Kind {
	case Deliver, Drop, Dup:
		from, to, ok := strings.Cut(f[1], "->")
		if !ok || len(f) < 3 || !strings.HasPrefix(f[2], "#") {
			return Step{}, fmt.Errorf("step %q: want %s FROM->TO #N", line, f[0])
		}
		var err error
		if s.From, err = parseProc(from); err != nil {
			return Step{}, fmt.Errorf("step %q: %w", line, err)
		}
		if s.To, err = parseProc(to); err != nil {
			return Step{}, fmt.Errorf("step %q: %w", line, err)
		}
		if s.N, err = strconv.Atoi(f[2][1:]); err != nil || s.N < 0 {
			return Step{}, fmt.Errorf("step %q: message number %q: want #0, #1 and so on", line, f[2])
		}
	default:
		var err error
		if s.Proc, err = parseProc(f[1]); err != nil {
			return Step{}, fmt.Errorf("step %q: %w", line, err)
		}
	}
	return s, nil
}

// steps lists every step enabled in w, in a fixed order. Of identical
// messages on a link only the first is offered: the others lead to the
// same states.
func (w *world) steps(out []Step) []Step {
	b := &w.cfg.Bounds
	seen := make(map[[2]lockmgr.Addr]int, 8)
	for i, p := range w.net {
		link := [2]lockmgr.Addr{p.from, p.to}
		n := seen[link]
		seen[link] = n + 1
		if w.duplicateBefore(i) || !w.up(p.to) {
			continue // a crashed replica's messages wait for its restart
		}
		out = append(out, Step{Kind: Deliver, From: p.from, To: p.to, N: n})
		if w.spent.Drops < b.Drops {
			out = append(out, Step{Kind: Drop, From: p.from, To: p.to, N: n})
		}
		if w.spent.Dups < b.Dups {
			out = append(out, Step{Kind: Dup, From: p.from, To: p.to, N: n})
		}
	}
	for _, r := range w.reps {
		a := lockmgr.Addr(r.id)
		switch {
		case r.node == nil:
			out = append(out, Step{Kind: Restart, Proc: a})
		default:
			if w.spent.Timers < b.Timers && r.node.TicksToTimer() < math.MaxInt32 {
				out = append(out, Step{Kind: Timer, Proc: a})
			}
			if w.spent.Crashes < b.Crashes {
				out = append(out, Step{Kind: Crash, Proc: a})
			}
		}
	}
	for i, c := range w.cls {
		if c.cur < 0 && !c.cl.Busy() && c.next < len(w.cfg.Clients[i]) {
			out = append(out, Step{Kind: Invoke, Proc: c.addr()})
		}
		if w.spent.Timers < b.Timers && c.cl.TicksToTimer() < math.MaxInt32 {
			out = append(out, Step{Kind: Timer, Proc: c.addr()})
		}
	}
	return out
}

// duplicateBefore reports whether a message equal to w.net[i] is in
// flight before it on the same link.
func (w *world) duplicateBefore(i int) bool {
	p := &w.net[i]
	for j := range i {
		q := &w.net[j]
		if q.from == p.from && q.to == p.to && string(q.data) == string(p.data) {
			return true
		}
	}
	return false
}

func (w *world) up(a lockmgr.Addr) bool {
	if a >= clientAddrBase {
		return true
	}
	return int(a) <= len(w.reps) && w.reps[a-1].node != nil
}

// find returns the index in w.net of message n of link from->to.
func (w *world) find(from, to lockmgr.Addr, n int) int {
	for i, p := range w.net {
		if p.from == from && p.to == to {
			if n == 0 {
				return i
			}
			n--
		}
	}
	return -1
}

// apply takes step s. An error means the step is not enabled in w (a
// replayed file that does not fit its configuration); a panic inside the
// processes is recorded as broken, a finding like any checker's.
func (w *world) apply(s Step) (err error) {
	defer func() {
		if p := recover(); p != nil {
			w.broken = fmt.Sprintf("panic: %v", p)
		}
	}()
	if err := w.enabled(s); err != nil {
		return err
	}
	w.spent.Depth++
	switch s.Kind {
	case Deliver, Drop, Dup:
		i := w.find(s.From, s.To, s.N)
		p := w.net[i]
		switch s.Kind {
		case Dup:
			w.spent.Dups++
			w.net = append(w.net, p)
			return nil
		case Drop:
			w.spent.Drops++
		}
		w.net = append(w.net[:i:i], w.net[i+1:]...)
		if s.Kind == Deliver {
			w.deliver(p)
		}
	case Timer:
		w.spent.Timers++
		w.fire(s.Proc)
	case Crash:
		w.spent.Crashes++
		r := w.ownReplica(int(s.Proc - 1))
		r.node, r.pending = nil, nil
	case Restart:
		return w.boot(w.ownReplica(int(s.Proc - 1)))
	case Invoke:
		w.invoke(w.ownClient(int(s.Proc - clientAddrBase)))
	}
	return nil
}

// enabled reports why s cannot be taken in w, if it cannot.
func (w *world) enabled(s Step) error {
	b := &w.cfg.Bounds
	switch s.Kind {
	case Deliver, Drop, Dup:
		switch {
		case w.find(s.From, s.To, s.N) < 0:
			return fmt.Errorf("%v: no such message in flight", s)
		case s.Kind == Deliver && !w.up(s.To):
			return fmt.Errorf("%v: replica %d is down", s, s.To)
		}
		return nil
	}
	if s.Proc >= clientAddrBase {
		i := int(s.Proc - clientAddrBase)
		if i >= len(w.cls) {
			return fmt.Errorf("%v: the configuration has %d clients", s, len(w.cls))
		}
		c := w.cls[i]
		switch {
		case s.Kind == Invoke && (c.cur >= 0 || c.cl.Busy() || c.next >= len(w.cfg.Clients[i])):
			return fmt.Errorf("%v: the client is busy or done", s)
		case s.Kind == Timer && c.cl.TicksToTimer() >= math.MaxInt32:
			return fmt.Errorf("%v: the client has no timer", s)
		case s.Kind != Invoke && s.Kind != Timer:
			return fmt.Errorf("%v: clients only invoke and fire timers", s)
		}
		return nil
	}
	if int(s.Proc) > len(w.reps) || s.Proc == 0 {
		return fmt.Errorf("%v: the configuration has replicas 1..%d", s, len(w.reps))
	}
	r := w.reps[s.Proc-1]
	switch {
	case s.Kind == Invoke:
		return fmt.Errorf("%v: replicas do not invoke", s)
	case s.Kind == Restart && r.node != nil, s.Kind != Restart && r.node == nil:
		return fmt.Errorf("%v: replica %d is %s", s, r.id, map[bool]string{true: "down", false: "up"}[r.node == nil])
	case s.Kind == Timer && r.node.TicksToTimer() >= math.MaxInt32:
		return fmt.Errorf("%v: replica %d has no timer", s, r.id)
	case s.Kind == Crash && w.spent.Crashes >= b.Crashes, s.Kind == Timer && w.spent.Timers >= b.Timers:
		return fmt.Errorf("%v: beyond the bounds (%v)", s, *b)
	}
	return nil
}

func (w *world) deliver(p packet) {
	if p.to >= clientAddrBase {
		w.receive(w.ownClient(int(p.to-clientAddrBase)), p.data)
		return
	}
	w.ownReplica(int(p.to-1)).node.Receive(p.from, p.data)
}

// fire runs a process up to and including the tick its next timer fires
// on; the ticks before it only count down.
func (w *world) fire(a lockmgr.Addr) {
	if a >= clientAddrBase {
		c := w.ownClient(int(a - clientAddrBase))
		for k := c.cl.TicksToTimer(); k > 0; k-- {
			c.cl.Tick()
		}
		w.flush(c)
		return
	}
	n := w.ownReplica(int(a - 1)).node
	for k := n.TicksToTimer(); k > 1; k-- {
		n.Elapse()
	}
	n.Tick()
}

func (w *world) invoke(c *client) {
	o := w.cfg.Clients[c.idx][c.next]
	c.next++
	if _, err := c.cl.Start(o.Op, o.Name); err != nil {
		w.broken = fmt.Sprintf("client c%d: %v", c.idx+1, err)
		return
	}
	c.cur = w.history().Call(c.idx, w.now(), o.Op, o.Name)
	c.began = false
	if o.Op.ReadOnly() {
		// Only a read's call matters to the checkers (the prefix chosen
		// before it); other calls would only copy them.
		w.checks().Invoked(c.cur, o.Op)
	}
	w.reportSession(c)
	w.flush(c)
}

func (w *world) receive(c *client, data []byte) {
	done, ok := c.cl.Receive(data)
	w.reportSession(c)
	if ok && c.cur >= 0 {
		h := c.cur
		c.cur = -1
		if done.Session != 0 {
			w.history().Began(h, done.Session)
		}
		w.history().Return(h, w.now(), done.Result)
		if done.Result.Status == lockmgr.Report {
			w.history().ReturnTable(h, done.Locks)
		}
		if done.Op.ReadOnly() {
			w.checks().Answered(h, done.Session, done) // only reads and statuses are judged there
		}
	}
	w.flush(c)
}

// reportSession records the session the outstanding operation went out
// in, once it did.
func (w *world) reportSession(c *client) {
	if c.cur >= 0 && !c.began {
		if s := c.cl.Outstanding(); s != 0 {
			c.began = true
			w.history().Began(c.cur, s)
		}
	}
}

func (w *world) flush(c *client) {
	for _, p := range c.cl.Outbox() {
		w.net = append(w.net, packet{from: c.addr(), to: p.To, data: p.Data})
	}
}

// describe prints a packet for a trace.
func describe(p packet) string {
	kind, body, err := paxos.ParseFrame(p.data)
	if err != nil {
		return "corrupt packet"
	}
	switch kind {
	case paxos.KindPaxos:
		var m paxos.Message
		if paxos.DecodeMessageBody(kind, body, &m) == nil {
			return paxos.DescribeMessage(&m)
		}
	case lockmgr.KindRequest:
		if q, err := lockmgr.DecodeRequest(body); err == nil {
			return fmt.Sprintf("%s->%s request %v", procName(p.from), procName(p.to), q.Command)
		}
	case lockmgr.KindReply:
		if r, err := lockmgr.DecodeReply(body); err == nil {
			return fmt.Sprintf("%s->%s reply %v#%d %v", procName(p.from), procName(p.to), r.Client, r.Seq,
				lockmgr.Result{Status: r.Status, Token: r.Token, Holder: r.Holder})
		}
	}
	return fmt.Sprintf("packet of kind %d", kind)
}
