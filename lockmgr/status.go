package lockmgr

import (
	"fmt"
	"strings"
)

// Status is the outcome of one command. The values are part of the wire
// format (they travel in replies and snapshots): never renumber, only append.
type Status uint8

const (
	// Granted: the caller holds the lock; Result.Token is its fencing token.
	Granted Status = 1
	// Queued: a blocking Lock is waiting behind the current holder. It is
	// never a final answer: the Lock later turns Granted (see Grant).
	Queued Status = 2
	// Busy: a TryLock found the lock held by Result.Holder.
	Busy Status = 3
	// Released: the caller held the lock and no longer does.
	Released Status = 4
	// NotHeld: an Unlock by a client that does not hold the lock; no change.
	NotHeld Status = 5
	// Invalid: a bad lock name (or op); no change.
	Invalid Status = 6
	// Stale: the state machine cannot say what happened to this request: its
	// seq is older than the session's latest (a late copy), or it is an
	// OpLead or OpExpire of a ballot the log has moved past. No change was
	// made now; an earlier copy may have taken effect, so a client that gets
	// Stale for its current request must treat the outcome as unknown.
	Stale Status = 7
	// SessionExpired: the request's session does not exist: it expired, was
	// closed, or was never opened. Nothing changes now; whether an earlier
	// copy of the request took effect before the session ended is not
	// known, but whatever the session held was released when it ended.
	// Open a new session.
	SessionExpired Status = 8
	// Refused: the request's tag does not prove its session's secret (a
	// forgery, or the wrong secret). No change, and nothing recorded.
	Refused Status = 9
	// Opened: an OpOpen started a session: Result.Holder is the session's
	// id and Result.Token its lease in ms (the asked-for lease, clamped to
	// the group's bounds).
	Opened Status = 10
	// Ended: an OpClose or OpExpire ended the session (its locks released,
	// its waits withdrawn), an OpLead took the leases over, or an OpRejoin
	// ended a replica's rebuild.
	Ended Status = 11
	// Full: an OpOpen found the session table full; nothing was opened.
	Full Status = 12

	// Redirect (wire only): this replica could not take the request (it
	// knows no leader, or its queue is full); Reply.Leader is its best
	// guess.
	Redirect Status = 32
	// Report: the answer to OpStatus and OpRead; Reply.Locks holds the
	// table. The state machine answers OpRead with it (and records it
	// nowhere).
	Report Status = 33
	// Alive (wire only): the leader heard the OpKeepAlive and counts the
	// session's lease from now.
	Alive Status = 34
)

var statusNames = [...]string{
	Granted:        "granted",
	Queued:         "queued",
	Busy:           "busy",
	Released:       "released",
	NotHeld:        "not-held",
	Invalid:        "invalid",
	Stale:          "stale",
	SessionExpired: "session-expired",
	Refused:        "refused",
	Opened:         "opened",
	Ended:          "ended",
	Full:           "full",
	Redirect:       "redirect",
	Report:         "report",
	Alive:          "alive",
}

func (s Status) String() string {
	if int(s) < len(statusNames) && statusNames[s] != "" {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// valid reports whether s is a status the state machine records.
func (s Status) valid() bool { return s >= Granted && s <= Full }

// Result is the answer to one command. Token is set for Granted, Holder for
// Busy; both are zero otherwise.
type Result struct {
	Status Status
	Token  uint64
	Holder ClientID
}

func (r Result) String() string {
	switch r.Status {
	case Granted:
		return fmt.Sprintf("granted #%d", r.Token)
	case Busy:
		return fmt.Sprintf("busy (%v)", r.Holder)
	case Opened:
		return fmt.Sprintf("opened %v (%d ms)", r.Holder, r.Token)
	}
	return r.Status.String()
}

// Grant is a queued Lock granted as a side effect of another client's Unlock:
// the server owes Client the answer Granted(Token) to its request Seq.
type Grant struct {
	Client ClientID
	Seq    uint64
	Name   string
	Token  uint64
}

// LockStatus describes one held lock: its holder, the holder's fencing token
// and the waiting clients in grant order.
type LockStatus struct {
	Name    string
	Holder  ClientID
	Token   uint64
	Waiters []ClientID
}

// FormatStatus renders locks on one line, as the seed printed after every
// command: `Current Locks: {"1": c7 (token 12) waiting [c9]}`.
func FormatStatus(locks []LockStatus) string {
	var b strings.Builder
	b.WriteString("Current Locks: {")
	for i, l := range locks {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: %v (token %d)", l.Name, l.Holder, l.Token)
		if len(l.Waiters) > 0 {
			b.WriteString(" waiting [")
			for j, w := range l.Waiters {
				if j > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(w.String())
			}
			b.WriteByte(']')
		}
	}
	b.WriteByte('}')
	return b.String()
}
