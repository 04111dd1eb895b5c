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
// Heartbeat acknowledgments are not judged: they vouch for nothing, and
// the driver may send one in the same batch as the slot that ends the
// rebuild, before that slot is applied.
type Rejoin struct {
	rebuilding []bool
	lostAt     []int // per replica: how many losses it had; 0 = none
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
	return &Rejoin{rebuilding: make([]bool, n), lostAt: make([]int, n), nonces: map[rejoinKey]int{}}
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
}

// Sent checks a message leaving replica id.
func (j *Rejoin) Sent(id paxos.ID, m *paxos.Message) {
	if m.Type == paxos.MsgForward {
		for i := range m.Entries {
			j.see(m.Entries[i].Cmds)
		}
	}
	if !j.rebuilding[id-1] || j.err != nil {
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
