package check

import (
	"fmt"

	"paxlock/paxos"
)

// The checkers' own ballot order, so that a bug in paxos.Ballot.Less
// cannot hide itself: ballots order by round, then by the proposing node.

func ballotLess(a, b paxos.Ballot) bool {
	return a.Round < b.Round || a.Round == b.Round && a.Node < b.Node
}

func ballotZero(b paxos.Ballot) bool { return b.Round == 0 && b.Node == 0 }

func fmtBallot(b paxos.Ballot) string { return fmt.Sprintf("%d.%d", b.Round, b.Node) }
