package paxos

// Mark names a situation a replica reached that a test sweep should reach
// too (coverage marks). The replica reports one through Config.Mark, a
// hook its host sets; nil, the default, costs a nil check where the
// situation arises and nothing else.
type Mark uint8

const (
	MarkPhase1            Mark = iota // phase 1 started (a pre-vote round won, or a candidacy timed out)
	MarkPhase1Retry                   // a candidate's phase 1 timed out and started again higher
	MarkCandidateOutbid               // a candidate learned of a higher ballot and stepped down
	MarkLeaderDeposed                 // a leader learned of a higher ballot and stepped down
	MarkQuorumLost                    // a leader heard no majority for an election timeout and stepped down
	MarkPendingHandedOn               // a leader or candidate stepped down with commands queued (they go to the forward queue)
	MarkPreVoteRefused                // a pre-vote was refused: the asked replica hears a live leader
	MarkPrepareRefused                // a prepare was refused (a higher promise, or a live leader)
	MarkAcceptRefused                 // an accept below the acceptor's promise was refused
	MarkValueRecovered                // a new leader re-proposed a value a promise reported accepted, not known chosen
	MarkHoleFilled                    // a new leader filled a slot nobody reported with a no-op
	MarkAcceptsResent                 // a leader resent accepts not acknowledged in time
	MarkCatchupLog                    // a replica served a lagging peer chosen slots from its log
	MarkCatchupSnapshot               // a replica served a peer that is below its log with its snapshot
	MarkSnapshotInstalled             // a replica installed a snapshot received from a peer
	MarkRebuildIgnored                // a rebuilding replica ignored a prepare or pre-vote (it votes in no quorum)
	MarkRebuilt                       // a replica that lost its disk saw its rejoin slot chosen and votes again
	NumMarks                          // the number of marks, not a mark
)

// markNames is the one list of marks' names and descriptions, by position.
var markNames = [NumMarks][2]string{
	MarkPhase1:            {"phase1", "phase 1 started (a pre-vote round won, or a candidacy timed out)"},
	MarkPhase1Retry:       {"phase1-retry", "a candidate's phase 1 timed out and started again at a higher ballot"},
	MarkCandidateOutbid:   {"candidate-outbid", "a candidate learned of a higher ballot and stepped down"},
	MarkLeaderDeposed:     {"leader-deposed", "a leader learned of a higher ballot and stepped down"},
	MarkQuorumLost:        {"leader-quorum-lost", "a leader heard no majority for an election timeout and stepped down"},
	MarkPendingHandedOn:   {"pending-handed-on", "a leader or candidate stepped down with commands queued"},
	MarkPreVoteRefused:    {"prevote-refused", "a pre-vote was refused: the asked replica hears a live leader"},
	MarkPrepareRefused:    {"prepare-refused", "a prepare was refused (a higher promise, or a live leader)"},
	MarkAcceptRefused:     {"accept-refused", "an accept below the acceptor's promise was refused"},
	MarkValueRecovered:    {"value-recovered", "a new leader re-proposed a value a promise reported accepted"},
	MarkHoleFilled:        {"hole-filled", "a new leader filled a slot nobody reported with a no-op"},
	MarkAcceptsResent:     {"accepts-resent", "a leader resent accepts not acknowledged in time"},
	MarkCatchupLog:        {"catchup-log", "a lagging replica was served chosen slots from a peer's log"},
	MarkCatchupSnapshot:   {"catchup-snapshot", "a replica below a peer's log was sent that peer's snapshot"},
	MarkSnapshotInstalled: {"snapshot-installed", "a replica installed a snapshot received from a peer"},
	MarkRebuildIgnored:    {"rebuild-ignored-vote", "a replica rebuilding after a disk loss ignored a prepare or pre-vote"},
	MarkRebuilt:           {"rebuilt", "a replica that lost its disk saw its rejoin slot chosen and votes again"},
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

// mark reports m to the host's hook, if any.
func (r *Replica) mark(m Mark) {
	if r.cfg.Mark != nil {
		r.cfg.Mark(m)
	}
}
