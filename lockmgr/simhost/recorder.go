package simhost

import (
	"paxlock/lockmgr"
	"paxlock/paxos"
)

// Recorder is where simulated processes report what happened, at the
// moment it happens. Every method gets copies or read-only views it must
// not keep beyond the call unless it copies them (records and messages
// alias the replica's memory).
type Recorder interface {
	// Booted: replica id (re)started from the records its disk held (a
	// torn tail already cut off). Its server is ready for inspection.
	Booted(id paxos.ID, recs []paxos.Record)
	// Appended: records written to the log, not yet durable.
	Appended(id paxos.ID, recs []paxos.Record)
	// Synced: everything appended so far is durable.
	Synced(id paxos.ID)
	// Rewrote: the whole log was atomically replaced by recs, durably.
	Rewrote(id paxos.ID, recs []paxos.Record)
	// Sent: a replica message leaves (see lockmgr.Observer.Sent).
	Sent(id paxos.ID, m *paxos.Message)
	// Committed: a chosen slot is handed to the state machine.
	Committed(id paxos.ID, e paxos.Entry)
	// Applied: one command of a committed slot was applied.
	Applied(id paxos.ID, slot uint64, c lockmgr.Command, r lockmgr.Result, grants []lockmgr.Grant)
	// Restored: the state machine was reset to the snapshot below slot.
	Restored(id paxos.ID, slot uint64)
	// StateHash: replica id has applied every slot below applied (and
	// nothing more); hash is its state machine's hash (Config.HashEvery).
	StateHash(id paxos.ID, applied, hash uint64)
	// Proposed: replica id put a command of its own (a lease takeover or
	// an expiry) into the log.
	Proposed(id paxos.ID, c lockmgr.Command)
	// KeptAlive: replica id, timing leases under ballot b, took a
	// keepalive of session s.
	KeptAlive(id paxos.ID, s lockmgr.ClientID, b paxos.Ballot)
	// Rebuilt: replica id, rebuilding after a disk loss, votes again
	// (its promise is durable and its rebuild mark gone).
	Rebuilt(id paxos.ID)

	// Invoked: client (0-based) starts an operation; the returned handle
	// names it in Returned.
	Invoked(client int, nowNs int64, op lockmgr.Op, name string) int
	// Queued: the operation (a Lock) was answered Queued: it waits for
	// the lock to come free.
	Queued(client, handle int, nowNs int64)
	// Began: the operation was sent in session (the client opened it
	// first if it had none).
	Began(client, handle int, session lockmgr.ClientID)
	// Abandoned: the client gave up waiting for a queued Lock (its
	// patience ran out) and moves on; the outcome is unknown to it.
	Abandoned(client, handle int, seq uint64, nowNs int64)
	// Returned: the operation got its final answer.
	Returned(client, handle int, nowNs int64, c lockmgr.Completion)

	// Wrote: the fenced resource accepted w, or refused it (a fenced
	// write with a token below the highest it accepted).
	Wrote(nowNs int64, w Write, accepted bool)

	// Broken: a process could not do its job (a log it cannot read, a
	// configuration the service refuses) or a host contract was broken (a
	// timer fired while its host slept). kind names the failure class.
	Broken(kind, detail string)
}

// Failure kinds a host reports through Broken.
const (
	BrokenStorage = "storage" // a replica cannot read its log or restore from it
	BrokenTimer   = "timer"   // a timer fired before the tick its host asked to wake at
	BrokenConfig  = "config"  // the service refused a configuration
	BrokenClient  = "client"  // the client session refused an operation
)
