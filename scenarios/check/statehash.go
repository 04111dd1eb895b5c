package check

import "paxlock/paxos"

// StateHash compares the state hashes replicas report: two replicas that
// applied the same prefix of the log must hold the same state. The hosts
// report a hash at every StateHashEvery-th applied slot, and the runner at
// the end of a run; the first report for a prefix is the one the others
// must match.
type StateHash struct {
	seen map[uint64]hashAt // applied prefix -> the first report
	err  *Failure
}

// StateHashEvery is how often (in applied slots) a host reports its state
// hash. Hashing the whole state costs about a microsecond; every eighth
// slot keeps that a small share of a run, and the oracle holds every
// answer to the reference between reports.
const StateHashEvery = 8

type hashAt struct {
	id   paxos.ID
	hash uint64
}

// NewStateHash returns an empty comparison.
func NewStateHash() *StateHash { return &StateHash{seen: map[uint64]hashAt{}} }

// Err is the first failure found, or nil.
func (s *StateHash) Err() *Failure { return s.err }

// Report: replica id applied every slot below applied and holds a state
// whose hash is hash.
func (s *StateHash) Report(id paxos.ID, applied, hash uint64) {
	prev, ok := s.seen[applied]
	switch {
	case !ok:
		s.seen[applied] = hashAt{id: id, hash: hash}
	case prev.hash != hash && s.err == nil:
		s.err = failf(FailStateHash, "replicas %d and %d applied slots below %d but hold states %x and %x",
			prev.id, id, applied, prev.hash, hash)
	}
}
