// Package check holds the harness's checkers: pure functions of what a
// simulated run recorded, fed event by event as the run goes. None of
// them calls a decision function of the code it checks (ballot order,
// quorum size, chosen-ness, token choice, the lock table's rules): each
// re-derives what it judges from the events themselves, with its own
// small implementation of the rule, so that a bug in the protocol cannot
// blind the checker that judges it.
//
//   - Consensus derives which value each slot chose from the replicas'
//     durable acceptances (a value is chosen once a majority has durably
//     accepted it at one ballot) and fails if a slot ever chooses two
//     values, if a replica applies a slot out of order, with a gap, or
//     with a value that was not chosen (or not yet).
//   - Durability follows each replica's disk from the records written and
//     synced, and fails if a promise or acceptance leaves before the disk
//     backs it, or a replica acts below what its disk promised.
//   - Oracle replays the chosen log through its own model of the lock
//     service and fails if any replica's answer to any command differs, or
//     a lock's fencing token does not increase, across the whole run
//     (restarts and snapshot installs included).
//   - StateHash compares the hashes replicas report for equal applied
//     prefixes.
//   - Model is the porcupine specification the client-observed history is
//     checked against for linearizability.
//
// It is not a runner: package scenarios runs scenarios and feeds these.
package check
