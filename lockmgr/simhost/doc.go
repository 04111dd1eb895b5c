// Package simhost runs the lock service inside the deterministic simulator
// (package sim): a replica process (a lockmgr.Node with the simulated disk
// as its storage and the simulated network as its transport) and a client
// process (a lockmgr.Client running a queue of operations). It is the twin
// of package udphost, which runs the same Node and Client on sockets, a
// real clock and a real disk; the driver loop itself is lockmgr's, and
// only the environment differs.
//
// Processes report everything a checker may want to know (records written
// and synced, messages sent, slots and commands applied, snapshots
// installed, operations invoked and answered) through one Recorder, which
// the harness implements. They keep no pointer into the harness otherwise.
//
// It is not a harness: it draws no scenario and checks nothing (package
// scenarios does both). Like sim, it is deterministic: no goroutines, no
// wall clock, randomness only from the process's seeded stream.
package simhost
