package simhost

import (
	"paxlock/lockmgr"
	"paxlock/paxos"
)

// Mark names a situation the simulated hosts themselves reach (coverage
// marks); the replica's and the lock service's own are paxos.Mark and
// lockmgr.Mark.
type Mark uint8

const (
	MarkTornTail Mark = iota // a replica restarted on a log with a torn tail and cut it off
	NumMarks                 // the number of marks, not a mark
)

var markNames = [NumMarks][2]string{
	MarkTornTail: {"torn-tail-cut", "a replica restarted on a log whose last write was torn by a crash, and cut it off"},
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

// Marks are the hooks a run counts coverage marks through; a nil hook
// counts nothing. They are per run (Config belongs to one group), so
// parallel runs never share a counter.
type Marks struct {
	Paxos func(paxos.Mark)
	Lock  func(lockmgr.Mark) // servers and clients alike
	Host  func(Mark)
}

func (m *Marks) host(k Mark) {
	if m.Host != nil {
		m.Host(k)
	}
}
