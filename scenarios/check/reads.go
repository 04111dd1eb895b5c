package check

import (
	"slices"
	"strconv"
	"strings"

	"paxlock/lockmgr"
)

// Status answers, judged against the oracle's own tables:
//
//   - A read (OpRead) goes through the log. Its answer must be the table
//     exactly as the reference has it at that read's place in the log (at
//     one of the places, if copies of it were chosen more than once), and
//     that place must lie beyond every slot that was in the chosen prefix
//     when the read was invoked: everything answered before the read began
//     is in the table it reports. That is a linearizable read.
//   - A status (OpStatus) is one replica's own table, answered at once. It
//     must be the reference's table after exactly the slots the replica
//     says it has applied: a state the log passed through, never a mix.
//     Its freshness (ticks since the replica heard its leader) is reported
//     with it, not judged.
//
// Tables are compared in a rendering of the checker's own.

type readKey struct {
	client lockmgr.ClientID
	seq    uint64
}

type readAt struct {
	slot  uint64
	table string
}

// table renders the reference's lock table. It runs at every slot, so it
// is written for speed: no fmt, one sort of the held names.
func (o *Oracle) table() string {
	o.names = o.names[:0]
	for name, l := range o.locks {
		if l.holder != 0 {
			o.names = append(o.names, name)
		}
	}
	slices.Sort(o.names)
	b := append(o.buf[:0], '{')
	for i, name := range o.names {
		l := o.locks[name]
		b = appendRow(b, i, name, l.holder, l.token)
		for _, w := range l.waiters {
			b = strconv.AppendUint(append(b, " s"...), uint64(w.client), 10)
		}
	}
	o.buf = append(b, '}')
	return string(o.buf)
}

func appendRow(b []byte, i int, name string, holder lockmgr.ClientID, token uint64) []byte {
	if i > 0 {
		b = append(b, ", "...)
	}
	b = strconv.AppendQuote(b, name)
	b = strconv.AppendUint(append(b, ": s"...), uint64(holder), 10)
	return strconv.AppendUint(append(b, " #"...), token, 10)
}

// RenderTable prints a reported table as the oracle renders its own, in
// name order whatever order it came in.
func RenderTable(rows []lockmgr.LockStatus) string {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b lockmgr.LockStatus) int { return strings.Compare(a.Name, b.Name) })
	b := []byte{'{'}
	for i, r := range rows {
		b = appendRow(b, i, r.Name, r.Holder, r.Token)
		for _, w := range r.Waiters {
			b = strconv.AppendUint(append(b, " s"...), uint64(w), 10)
		}
	}
	return string(append(b, '}'))
}

// ReadAnswered: client's read seq was answered with rows, as the table at
// slot; prefix is how many slots were chosen, in a gapless prefix, when
// the read was invoked (see Consensus.ChosenPrefix).
func (o *Oracle) ReadAnswered(client lockmgr.ClientID, seq, slot, prefix uint64, rows []lockmgr.LockStatus) {
	got := RenderTable(rows)
	places := o.reads[readKey{client, seq}]
	var there []string // the tables at the copies in that slot (a batch may hold two)
	for _, at := range places {
		if at.slot != slot {
			continue
		}
		if at.table == got {
			if slot < prefix {
				o.failKind(FailStatus, "read s%d#%d answered from slot %d, but slots 0..%d were chosen before it began: a stale read",
					client, seq, slot, prefix-1)
			}
			return
		}
		there = append(there, at.table)
	}
	if len(there) > 0 {
		o.failKind(FailStatus, "read s%d#%d at slot %d answered %s; the table there is %s", client, seq, slot, got, strings.Join(there, " or "))
		return
	}
	o.failKind(FailStatus, "read s%d#%d answered as of slot %d, where the log holds no such read (it is at %v)", client, seq, slot, places)
}

// StatusAnswered: a replica answered a status with rows, saying it had
// applied every slot below applied.
func (o *Oracle) StatusAnswered(client lockmgr.ClientID, applied uint64, rows []lockmgr.LockStatus) {
	got := RenderTable(rows)
	want, ok := o.prefixes[applied]
	if !ok && applied == o.next && len(o.slots) > 0 && len(o.slots[o.next-1]) == len(o.pending) {
		want, ok = o.table(), true // the reference has just finished that slot
	}
	switch {
	case !ok && applied == 0:
		want = "{}"
	case !ok:
		o.failKind(FailStatus, "c%d's status says slots below %d were applied; the reference is at slot %d", client, applied, o.next)
		return
	}
	if got != want {
		o.failKind(FailStatus, "c%d's status (applied below slot %d) answered %s; the table after those slots is %s", client, applied, got, want)
	}
}
