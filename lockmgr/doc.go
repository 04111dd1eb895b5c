// Package lockmgr is the lock service: state machine, checker model, server
// glue and client session logic, all sans-IO.
//
// The StateMachine is what every replica applies, command by command, in log
// order; it is deterministic (no clock, no randomness, no map order reaching an
// output), so replicas that applied the same prefix have byte-identical
// snapshots and equal hashes. Model is the porcupine specification of the same
// service, used by the simulator to check client-observed histories.
//
// It is not a network server and not a Paxos implementation: it neither sends
// nor stores anything. Hosts feed it commands and carry its results.
package lockmgr
