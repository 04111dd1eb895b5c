package check

import (
	"paxlock/paxos"
)

// Rejoin checks the rebuild of a replica that lost its disk (Paxos Made
// Live, 5.1): from the loss on, the replica must take part in no quorum
// and start no election (send no promise, no acceptance, no prepare or
// pre-vote, lead nothing) until it has been handed to apply a chosen slot
// carrying a rejoin command of its own made after the loss; every slot
// below that one is then chosen and known to it. A rejoin command is "made
// after the loss" if this checker never saw it before the loss, in any
// message or any chosen slot: the replica's rebuild cannot borrow an old
// one. The checker decodes rejoin commands itself (op 11, the replica in
// Node, a nonce in Arg) and judges only recorded messages and slots.
//
// Once it votes again, it must not vote below a ballot it promised (or
// accepted at) before the loss while the replica that owns that ballot
// has not restarted since: that candidate or leader may still be counting
// the promise, which the disk forgot. The checker keeps, per replica and
// per ballot owner, the highest ballot of the promises and acceptances it
// sent, by its own ballot order.
//
// Heartbeat acknowledgments are not judged: they vouch for nothing, and
// the driver may send one in the same batch as the slot that ends the
// rebuild, before that slot is applied.
type Rejoin struct {
	rebuilding []bool
	lostAt     []int // per replica: how many losses it had; 0 = none
	// voted[w][c]: the highest ballot owned by replica c+1 that replica
	// w+1 promised or accepted at, in messages it sent; owed: the same at
	// w's latest loss, less what c's restarts since have voided.
	voted, owed [][]paxos.Ballot
	// nonces: a rejoin command's nonce -> the loss count of its replica
	// when this checker first saw it.
	nonces map[rejoinKey]int
	err    *Failure
}

type rejoinKey struct {
	node  paxos.ID
	nonce uint64
}

// NewRejoin follows replicas 1..n.
func NewRejoin(n int) *Rejoin {
	return &Rejoin{rebuilding: make([]bool, n), lostAt: make([]int, n), nonces: map[rejoinKey]int{},
		voted: square(n), owed: square(n)}
}

func square(n int) [][]paxos.Ballot {
	m := make([][]paxos.Ballot, n)
	for i := range m {
		m[i] = make([]paxos.Ballot, n)
	}
	return m
}

// Err is the first failure found, or nil.
func (j *Rejoin) Err() *Failure { return j.err }

// Rebuilding reports whether replica id lost its disk and has not been
// handed its rejoin slot yet.
func (j *Rejoin) Rebuilding(id paxos.ID) bool { return j.rebuilding[id-1] }

// DiskLost: replica id's disk is gone; it comes back rebuilding.
func (j *Rejoin) DiskLost(id paxos.ID) {
	j.rebuilding[id-1] = true
	j.lostAt[id-1]++
	copy(j.owed[id-1], j.voted[id-1])
}

// Booted: replica id (re)started; the candidacy or leadership it had is
// gone, and with it any count of promises made to its ballots.
func (j *Rejoin) Booted(id paxos.ID) {
	for w := range j.voted {
		j.voted[w][id-1] = paxos.Ballot{}
		j.owed[w][id-1] = paxos.Ballot{}
	}
}

// changedBy reports whether Sent(id, m) may change j; when it reports
// false, Sent would change nothing (it may say true when Sent would not).
// Most messages a replica sends change nothing here, so a copy of the
// checkers shares this one until one does (Checkers.Sent).
func (j *Rejoin) changedBy(id paxos.ID, m *paxos.Message) bool {
	if m.Type == paxos.MsgForward {
		for i := range m.Entries {
			for _, raw := range m.Entries[i].Cmds {
				if len(raw) > 0 && raw[0] == byte(opRejoin) {
					return true // a nonce it may not have seen
				}
			}
		}
	}
	switch {
	case j.err != nil:
		return false
	case j.rebuilding[id-1]:
		return true
	case (m.Type == paxos.MsgPromise || m.Type == paxos.MsgAccepted) && !m.Reject:
		if j.lostAt[id-1] > 0 {
			return true // it may break a promise made before the loss
		}
		c := int(m.Ballot.Node)
		return c >= 1 && c <= len(j.voted) && ballotLess(j.voted[id-1][c-1], m.Ballot)
	}
	return false
}

// Sent checks a message leaving replica id.
func (j *Rejoin) Sent(id paxos.ID, m *paxos.Message) {
	if m.Type == paxos.MsgForward {
		for i := range m.Entries {
			j.see(m.Entries[i].Cmds)
		}
	}
	if j.err != nil {
		return
	}
	if (m.Type == paxos.MsgPromise || m.Type == paxos.MsgAccepted) && !m.Reject {
		if j.lostAt[id-1] > 0 && !j.rebuilding[id-1] {
			for c, b := range j.owed[id-1] {
				if ballotLess(m.Ballot, b) {
					j.err = failf(FailRejoin, "replica %d sent %s after rebuilding, below the ballot %s it had promised or "+
						"accepted at before its disk loss (replica %d, which owns that ballot, has not restarted since: it may "+
						"still count that promise)", id, paxos.DescribeMessage(m), fmtBallot(b), c+1)
					return
				}
			}
		}
		if c := int(m.Ballot.Node); c >= 1 && c <= len(j.voted) && ballotLess(j.voted[id-1][c-1], m.Ballot) {
			j.voted[id-1][c-1] = m.Ballot
		}
	}
	if !j.rebuilding[id-1] {
		return
	}
	vote := false
	switch m.Type {
	case paxos.MsgPromise, paxos.MsgAccepted:
		vote = !m.Reject
	case paxos.MsgPrepare, paxos.MsgPreVote:
		vote = true
	case paxos.MsgAccept:
		vote = len(m.Entries) > 0
	}
	if vote {
		j.err = failf(FailRejoin, "replica %d sent %s while rebuilding after its disk loss "+
			"(no chosen slot carrying a rejoin command of its own, made since the loss, was handed to it yet)",
			id, paxos.DescribeMessage(m))
	}
}

// Committed: replica id is handed slot e to apply.
func (j *Rejoin) Committed(id paxos.ID, e paxos.Entry) {
	j.see(e.Cmds)
	if !j.rebuilding[id-1] {
		return
	}
	for _, raw := range e.Cmds {
		if c, ok := decodeCmd(raw); ok && c.Op == opRejoin && c.Node == id &&
			j.nonces[rejoinKey{id, c.Arg}] == j.lostAt[id-1] {
			j.rebuilding[id-1] = false
			return
		}
	}
}

// see notes the rejoin commands among cmds the first time they appear.
func (j *Rejoin) see(cmds [][]byte) {
	for _, raw := range cmds {
		if len(raw) == 0 || raw[0] != byte(opRejoin) {
			continue
		}
		c, ok := decodeCmd(raw)
		if !ok || c.Node == 0 || int(c.Node) > len(j.lostAt) {
			continue
		}
		k := rejoinKey{c.Node, c.Arg}
		if _, seen := j.nonces[k]; !seen {
			j.nonces[k] = j.lostAt[c.Node-1]
		}
	}
}
