package lockmgr

// Mark names a situation the lock service reached that a test sweep
// should reach too (coverage marks). A server reports one through
// ServerConfig.Mark, a client through ClientConfig.Mark: hooks a host
// sets. Nil, the default, costs a nil check where the situation arises.
type Mark uint8

const (
	MarkDupAnswered       Mark = iota // a repeated request was answered from the at-most-once table, not logged again
	MarkDupApplied                    // a request chosen twice was applied once; the copy got the recorded answer
	MarkStaleApplied                  // a request older than its session's latest was chosen and answered stale
	MarkForgedRefused                 // a request with a tag that does not prove its session was refused
	MarkSessionExpired                // the leader's expiry ended a session
	MarkGrantOnRelease                // an unlock handed the lock to the head waiter
	MarkGrantOnEnd                    // a session's end (expiry or close) handed its locks to waiters
	MarkWaitWithdrawn                 // a session's new request withdrew the Lock it was queued for
	MarkEndedAnswered                 // a request of a session known ended was answered session-expired
	MarkRedirected                    // a replica without a leader (or a full queue) sent a client on
	MarkBadPacket                     // a packet that failed its checksum or did not decode was dropped
	MarkClientRetry                   // a client sent a request again after its timeout
	MarkRetryNewLeader                // a retried request was answered under another leader than the one the client knew when it first sent it
	MarkClientLeaseLost               // a client's lease ran out on its own clock: it counts its locks as lost
	MarkClientSessionLost             // a client was told its session had ended
	NumMarks                          // the number of marks, not a mark
)

// markNames is the one list of marks' names and descriptions, by position.
var markNames = [NumMarks][2]string{
	MarkDupAnswered:       {"dup-answered", "a repeated request was answered from the at-most-once table, not logged again"},
	MarkDupApplied:        {"dup-applied", "a request chosen twice was applied once; the copy got the recorded answer"},
	MarkStaleApplied:      {"stale-applied", "a request older than its session's latest was chosen, and answered stale"},
	MarkForgedRefused:     {"forged-refused", "a request whose tag does not prove its session was refused"},
	MarkSessionExpired:    {"session-expired", "a leader's expiry ended a session"},
	MarkGrantOnRelease:    {"grant-on-release", "an unlock handed the lock to the head waiter"},
	MarkGrantOnEnd:        {"grant-on-end", "a session's end (expiry or close) handed its locks to waiters"},
	MarkWaitWithdrawn:     {"wait-withdrawn", "a session's new request withdrew the Lock it was queued for"},
	MarkEndedAnswered:     {"ended-answered", "a request of a session known ended was answered session-expired"},
	MarkRedirected:        {"redirected", "a replica without a leader (or with a full queue) sent a client on"},
	MarkBadPacket:         {"bad-packet", "a packet that failed its checksum or did not decode was dropped"},
	MarkClientRetry:       {"client-retry", "a client sent a request again after its timeout"},
	MarkRetryNewLeader:    {"retry-new-leader", "a retried request was answered under another leader than the client knew at its first send"},
	MarkClientLeaseLost:   {"client-lease-lost", "a client's lease ran out on its own clock: it counts its locks lost"},
	MarkClientSessionLost: {"client-session-lost", "a client was told its session had ended"},
}

// String is the mark's name, as a coverage report shows it.
func (m Mark) String() string {
	if m >= NumMarks {
		return "mark?"
	}
	return markNames[m][0]
}

// Doc says in a line what the mark means.
func (m Mark) Doc() string {
	if m >= NumMarks {
		return ""
	}
	return markNames[m][1]
}

// markWith reports m to hook, if there is one.
func markWith(hook func(Mark), m Mark) {
	if hook != nil {
		hook(m)
	}
}
