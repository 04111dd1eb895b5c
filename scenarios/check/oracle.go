package check

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"slices"

	"paxlock/lockmgr"
	"paxlock/paxos"
)

// Oracle is the checkers' own model of the lock service: it replays the
// log, slot by slot as replicas first apply it, through a small reference
// implementation of the rules (written apart from lockmgr's state
// machine, without its data structures), and holds every replica's
// answer to every command against the reference's. It fails if:
//
//   - a replica's result or the waiters it granted differ from the
//     reference (FIFO order, re-entrancy, at-most-once answers, Busy's
//     holder, a grant withheld or invented);
//   - a lock's fencing token does not strictly increase in log order (a
//     re-grant to the holder repeats its token), judged once for the whole
//     run, so that tokens going backwards across a restart or a snapshot
//     install are caught;
//   - two replicas answer the same command with different tokens.
//
// Token values are the service's choice: the reference learns each from
// the first replica to apply the grant, checks it against the lock's last
// token, and holds every other replica to it.
type Oracle struct {
	sm          lockmgr.SMConfig // the group's bounds (data, not code)
	next        uint64           // the next slot the reference applies
	locks       map[string]*refLock
	sessions    map[lockmgr.ClientID]*refSession
	nonces      map[lockmgr.ClientID]lockmgr.ClientID
	lastSession lockmgr.ClientID
	lead        paxos.Ballot   // the latest lead command's ballot
	slots       [][]refOutcome // per slot: the outcome of each command, in order
	cursor      []applyCursor  // per replica (id-1)
	leader      paxos.ID       // the replica the reference follows through slot next-1
	pending     []cmd          // the decodable commands of slot next-1
	err         *Failure
	// For the status checks (reads.go): the table after every slot below
	// a prefix, and at each read in the log.
	prefixes map[uint64]string
	reads    map[readKey][]readAt
	names    []string // scratch for table
	buf      []byte   // scratch for table
}

type refLock struct {
	holder  lockmgr.ClientID
	token   uint64 // 0 until learned
	waiters []refWaiter
}

type refWaiter struct {
	client lockmgr.ClientID
	seq    uint64
}

type refSession struct {
	nonce   lockmgr.ClientID
	secret  lockmgr.Key
	leaseMs uint64
	seq     uint64
	result  lockmgr.Result
	waiting string // the lock a Queued request waits for
	held    map[string]bool
	mac     hash.Hash // HMAC-SHA256 keyed with secret, made on first use
	sum     []byte
}

// refOutcome is what applying one command must give.
type refOutcome struct {
	cmd    lockmgr.Command
	result lockmgr.Result
	grants []lockmgr.Grant
}

// applyCursor is where a replica is inside the slot it applies.
type applyCursor struct {
	slot uint64
	k    int  // commands of the slot applied so far
	open bool // inside a slot
}

// NewOracle follows replicas 1..n of a service configured with sm (its
// session bound and lease bounds; zero fields take the documented
// defaults).
func NewOracle(n int, sm lockmgr.SMConfig) *Oracle {
	return &Oracle{sm: sm, locks: map[string]*refLock{}, nonces: map[lockmgr.ClientID]lockmgr.ClientID{},
		sessions: map[lockmgr.ClientID]*refSession{}, cursor: make([]applyCursor, n),
		prefixes: map[uint64]string{}, reads: map[readKey][]readAt{}}
}

// Err is the first failure found, or nil.
func (o *Oracle) Err() *Failure { return o.err }

func (o *Oracle) fail(format string, args ...any) {
	if o.err == nil {
		o.err = failf(FailOracle, format, args...)
	}
}

// Committed: replica id starts applying slot e.Slot. The first replica to
// get there leads the reference through it: each command it applies is
// then applied by the reference too, which takes the tokens from it.
func (o *Oracle) Committed(id paxos.ID, e paxos.Entry) {
	o.finishSlot(id)
	o.cursor[id-1] = applyCursor{slot: e.Slot, open: true}
	if e.Slot < o.next {
		return
	}
	if e.Slot > o.next {
		o.fail("replica %d applied slot %d before any replica applied slot %d", id, e.Slot, o.next)
		return
	}
	o.prefixes[e.Slot] = o.table() // every slot below e.Slot is applied
	o.pending = o.pending[:0]
	for _, raw := range e.Cmds {
		if c, ok := decodeCmdBody(raw); ok {
			o.pending = append(o.pending, c)
		}
	}
	o.slots = append(o.slots, make([]refOutcome, 0, len(o.pending)))
	o.leader = id
	o.next++
}

// finishSlot checks that replica id applied every command of the slot it
// was applying (a replica that skips one answers nobody for it).
func (o *Oracle) finishSlot(id paxos.ID) {
	cur := &o.cursor[id-1]
	if !cur.open {
		return
	}
	cur.open = false
	want := len(o.slots[cur.slot])
	if cur.slot == o.next-1 && o.leader == id {
		want = len(o.pending)
	}
	if cur.k != want {
		o.fail("replica %d applied %d of the %d commands of slot %d", id, cur.k, want, cur.slot)
	}
}

// Restored: replica id reset its state machine to a snapshot; it applies
// from there on (Consensus checks where).
func (o *Oracle) Restored(id paxos.ID, slot uint64) { o.cursor[id-1].open = false }

// Booted: replica id restarted; it applies from its disk's state on.
func (o *Oracle) Booted(id paxos.ID) { o.cursor[id-1].open = false }

// Applied: replica id applied the next command of its slot.
func (o *Oracle) Applied(id paxos.ID, slot uint64, c lockmgr.Command, r lockmgr.Result, grants []lockmgr.Grant) {
	cur := &o.cursor[id-1]
	if !cur.open || slot != cur.slot {
		o.fail("replica %d applied %v in slot %d without committing the slot", id, c, slot)
		return
	}
	if id == o.leader && slot == o.next-1 && cur.k == len(o.slots[slot]) {
		// The reference applies this command now, with this replica.
		if cur.k >= len(o.pending) || c != o.pending[cur.k].Command {
			o.fail("replica %d applied %v as command %d of slot %d, which holds %s", id, c, cur.k+1, slot, o.describePending())
			return
		}
		want := o.apply(slot, o.pending[cur.k])
		o.learn(id, slot, &want, r, grants)
		o.slots[slot] = append(o.slots[slot], want)
		cur.k++
		return
	}
	if cur.k >= len(o.slots[slot]) {
		o.fail("replica %d applied %v in slot %d, which holds no more commands", id, c, slot)
		return
	}
	want := &o.slots[slot][cur.k]
	cur.k++
	switch {
	case c != want.cmd:
		o.fail("replica %d applied %v as command %d of slot %d, which is %v", id, c, cur.k, slot, want.cmd)
	case r != want.result || !slices.Equal(grants, want.grants):
		o.fail("replica %d slot %d: %v answered %v granting %v; the reference (and the first replica) say %v granting %v",
			id, slot, c, r, grants, want.result, want.grants)
	}
}

func (o *Oracle) describePending() string {
	s := "["
	for i, c := range o.pending {
		if i > 0 {
			s += " "
		}
		s += c.Command.String()
	}
	return s + "]"
}

// learn compares the first replica's answer with the reference, taking
// the tokens from it, and checks them against each lock's last token.
func (o *Oracle) learn(id paxos.ID, slot uint64, want *refOutcome, r lockmgr.Result, grants []lockmgr.Grant) {
	w := want.result
	sameShape := r.Status == w.Status && r.Holder == w.Holder && len(grants) == len(want.grants)
	for i := 0; sameShape && i < len(grants); i++ {
		g, wg := grants[i], want.grants[i]
		sameShape = g.Client == wg.Client && g.Seq == wg.Seq && g.Name == wg.Name
	}
	fresh := w.Status == lockmgr.Granted && w.Token == 0
	if !sameShape || !fresh && r.Token != w.Token {
		o.fail("replica %d slot %d: %v answered %v granting %v; the reference says %v granting %v",
			id, slot, want.cmd, r, grants, w, want.grants)
		return
	}
	if fresh {
		// A fresh grant: the token is new and above the lock's last.
		o.newToken(id, slot, want.cmd.Name, r.Token)
		want.result.Token = r.Token
		o.sessions[want.cmd.Client].result.Token = r.Token
	}
	for i, g := range grants {
		o.newToken(id, slot, g.Name, g.Token)
		want.grants[i].Token = g.Token
		o.sessions[g.Client].result.Token = g.Token
	}
}

// newToken records a fresh grant's token for lock name: strictly above
// the last one, across the whole run.
func (o *Oracle) newToken(id paxos.ID, slot uint64, name string, tok uint64) {
	l := o.locks[name]
	if tok <= l.token {
		o.failKind(FailFencing, "replica %d slot %d: lock %q granted token %d after token %d", id, slot, name, tok, l.token)
	}
	l.token = tok
}

func (o *Oracle) failKind(kind, format string, args ...any) {
	if o.err == nil {
		o.err = failf(kind, format, args...)
	}
}

// apply is the reference service: one command applied in slot.
func (o *Oracle) apply(slot uint64, c cmd) refOutcome {
	out := refOutcome{cmd: c.Command}
	res := func(st lockmgr.Status) refOutcome { out.result = lockmgr.Result{Status: st}; return out }
	ballot := paxos.Ballot{Round: c.Arg, Node: c.Node}
	switch c.Op {
	case opLead:
		if !o.lead.Less(ballot) {
			return res(lockmgr.Stale)
		}
		o.lead = ballot
		return res(lockmgr.Ended)
	case opExpire:
		s := o.sessions[c.Client]
		switch {
		case ballot != o.lead:
			return res(lockmgr.Stale) // proposed by a leader since replaced
		case s == nil:
			return res(lockmgr.SessionExpired)
		}
		out.grants = o.end(c.Client, s)
		return res(lockmgr.Ended)
	case opOpen:
		return o.open(out, c)
	case opRejoin:
		return res(lockmgr.Ended) // marks a replica's rebuild done; changes nothing
	}
	s := o.sessions[c.Client]
	switch {
	case s == nil:
		return res(lockmgr.SessionExpired)
	case !s.tagValid(c):
		return res(lockmgr.Refused)
	case c.Op == opRead:
		// A read changes nothing and is recorded nowhere; its answer is
		// the table as it stands here.
		k := readKey{c.Client, c.Seq}
		o.reads[k] = append(o.reads[k], readAt{slot: slot, table: o.table()})
		return res(lockmgr.Report)
	case c.Seq < s.seq:
		return res(lockmgr.Stale)
	case c.Seq == s.seq:
		out.result = s.result // a repeat: the recorded answer
		return out
	}
	// A new request: a wait the client left behind is withdrawn.
	o.withdraw(c.Client, s)
	if c.Op == opClose {
		out.grants = o.end(c.Client, s)
		return res(lockmgr.Ended)
	}
	out.result, out.grants = o.execute(c.Client, s, c.Command)
	s.seq, s.result = c.Seq, out.result
	return out
}

// tagValid is the tag rule computed here: HMAC-SHA256 under the secret
// over the encoding without the key, its first 16 bytes.
func (s *refSession) tagValid(c cmd) bool {
	if s.mac == nil {
		s.mac = hmac.New(sha256.New, s.secret[:])
	}
	s.mac.Reset()
	s.mac.Write(c.body)
	s.sum = s.mac.Sum(s.sum[:0])
	return hmac.Equal(s.sum[:len(c.Key)], c.Key[:])
}

// open starts a session numbered after the last, or finds the live one a
// repeated open (same nonce) started.
func (o *Oracle) open(out refOutcome, c cmd) refOutcome {
	if id, ok := o.nonces[c.Client]; ok {
		s := o.sessions[id]
		if s.secret != c.Key {
			out.result = lockmgr.Result{Status: lockmgr.Refused}
			return out
		}
		out.result = lockmgr.Result{Status: lockmgr.Opened, Holder: id, Token: s.leaseMs}
		return out
	}
	limit := o.sm.MaxSessions
	if limit <= 0 {
		limit = lockmgr.DefaultMaxSessions
	}
	if len(o.sessions) >= limit {
		out.result = lockmgr.Result{Status: lockmgr.Full}
		return out
	}
	lo, hi := o.sm.LeaseMinMs, o.sm.LeaseMaxMs
	if lo == 0 {
		lo = lockmgr.DefaultLeaseMinMs
	}
	if hi == 0 {
		hi = lockmgr.DefaultLeaseMaxMs
	}
	lease := c.Arg
	if lease > hi {
		lease = hi
	}
	if lease < lo {
		lease = lo
	}
	o.lastSession++
	id := o.lastSession
	o.sessions[id] = &refSession{nonce: c.Client, secret: c.Key, leaseMs: lease, held: map[string]bool{}}
	o.nonces[c.Client] = id
	out.result = lockmgr.Result{Status: lockmgr.Opened, Holder: id, Token: lease}
	return out
}

// withdraw takes the session's queued wait, if any, out of its queue.
func (o *Oracle) withdraw(id lockmgr.ClientID, s *refSession) {
	if s.waiting == "" {
		return
	}
	l := o.locks[s.waiting]
	l.waiters = slices.DeleteFunc(l.waiters, func(w refWaiter) bool { return w.client == id })
	s.waiting = ""
	s.result = lockmgr.Result{}
}

// end ends a session: its wait withdrawn, its locks released in name
// order (each handed to its head waiter), its record gone.
func (o *Oracle) end(id lockmgr.ClientID, s *refSession) []lockmgr.Grant {
	o.withdraw(id, s)
	names := make([]string, 0, len(s.held))
	for n := range s.held {
		names = append(names, n)
	}
	slices.Sort(names)
	var grants []lockmgr.Grant
	for _, n := range names {
		if g, ok := o.handOn(id, s, n); ok {
			grants = append(grants, g)
		}
	}
	delete(o.sessions, id)
	delete(o.nonces, s.nonce)
	return grants
}

func (o *Oracle) execute(id lockmgr.ClientID, s *refSession, c lockmgr.Command) (lockmgr.Result, []lockmgr.Grant) {
	if len(c.Name) < 1 || len(c.Name) > lockmgr.NameBytesMax {
		return lockmgr.Result{Status: lockmgr.Invalid}, nil
	}
	l := o.locks[c.Name]
	switch c.Op {
	case lockmgr.OpLock, lockmgr.OpTryLock:
		switch {
		case l == nil || l.holder == 0:
			if l == nil {
				l = &refLock{}
				o.locks[c.Name] = l
			}
			l.holder = id
			s.held[c.Name] = true
			return lockmgr.Result{Status: lockmgr.Granted}, nil // token learned
		case l.holder == id:
			return lockmgr.Result{Status: lockmgr.Granted, Token: l.token}, nil
		case c.Op == lockmgr.OpTryLock:
			return lockmgr.Result{Status: lockmgr.Busy, Holder: l.holder}, nil
		}
		l.waiters = append(l.waiters, refWaiter{client: id, seq: c.Seq})
		s.waiting = c.Name
		return lockmgr.Result{Status: lockmgr.Queued}, nil
	case lockmgr.OpUnlock:
		if l == nil || l.holder != id {
			return lockmgr.Result{Status: lockmgr.NotHeld}, nil
		}
		g, ok := o.handOn(id, s, c.Name)
		if !ok {
			return lockmgr.Result{Status: lockmgr.Released}, nil
		}
		return lockmgr.Result{Status: lockmgr.Released}, []lockmgr.Grant{g}
	}
	return lockmgr.Result{Status: lockmgr.Invalid}, nil
}

// handOn takes lock name from its holder id and grants it to the head
// waiter, if there is one.
func (o *Oracle) handOn(id lockmgr.ClientID, s *refSession, name string) (lockmgr.Grant, bool) {
	l := o.locks[name]
	delete(s.held, name)
	l.holder = 0
	if len(l.waiters) == 0 {
		return lockmgr.Grant{}, false
	}
	w := l.waiters[0]
	l.waiters = l.waiters[1:]
	l.holder = w.client
	next := o.sessions[w.client]
	next.held[name] = true
	next.waiting = ""
	next.result = lockmgr.Result{Status: lockmgr.Granted}
	return lockmgr.Grant{Client: w.client, Seq: w.seq, Name: name}, true
}

// String describes the reference's lock table, for failure messages.
func (o *Oracle) String() string {
	names := make([]string, 0, len(o.locks))
	for n, l := range o.locks {
		if l.holder != 0 {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	s := "{"
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		l := o.locks[n]
		s += fmt.Sprintf("%q: s%d #%d", n, l.holder, l.token)
	}
	return s + "}"
}
