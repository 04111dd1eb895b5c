// Package lockmgr is the lock service, sans-IO: the replicated lock table
// (StateMachine), the server glue that ties it to a paxos.Replica (Server),
// the one driver loop every host runs (Node), the client session (Client),
// and the client wire protocol.
//
// The StateMachine is what every replica applies, command by command, in log
// order; it is deterministic (no clock, no randomness, no map order reaching an
// output), so replicas that applied the same prefix have byte-identical
// snapshots and equal hashes. The ops of the service are defined once, in
// opTable (command.go); see ARCHITECTURE.md for how to add one.
//
// It is not a network server, not a Paxos implementation and not a checker:
// it neither sends nor stores anything itself (hosts plug in a Storage and a
// Transport: see lockmgr/simhost and lockmgr/udphost), and the model the
// harness judges it by lives apart, in scenarios/check.
package lockmgr
