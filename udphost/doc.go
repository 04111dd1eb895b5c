// Package udphost runs the lock service on real UDP sockets: the host that
// plugs a real clock, a socket and a durable log (package wal) into the
// same lockmgr.Node driver loop the simulator uses. It also holds what the
// real-world binaries share: the group configuration (config.json), packet
// authentication (HMAC-SHA256 with an optional shared key), the mapping of
// socket addresses to replica ids and client handles, and the client
// transport that drives a sans-IO lockmgr.Client over a socket.
//
// One goroutine owns each node: it alone touches the lockmgr.Node, the
// address table and the log. A second goroutine only reads the socket and
// checks packets' MACs; it hands packets over a channel. The owner delivers
// every packet already waiting (up to a bound) before it drives the node
// once, so that the records they cause share one fsync (group commit).
//
// It is not the place for Paxos or lock logic, and it does not log:
// errors and counters go back to the caller (cmd/paxosd logs them).
package udphost
