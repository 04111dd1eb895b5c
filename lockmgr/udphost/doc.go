// Package udphost runs the lock service on real UDP sockets: the host that
// plugs a real clock, a socket and a durable log (package wal) into the
// same lockmgr.Node driver loop the simulator uses. It also holds what the
// real-world binaries share: the group configuration (config.json), packet
// authentication (HMAC-SHA256 with an optional shared key), the mapping of
// socket addresses to replica ids and client handles, and the client
// transport that drives a sans-IO lockmgr.Client over a socket.
//
// One goroutine owns each node: it alone touches the socket's reads, the
// lockmgr.Node, the address table and the log. It reads many datagrams per
// system call (recvmmsg, through golang.org/x/net), with the next tick as
// the read deadline, and delivers every packet already waiting (up to a
// bound) before it drives the node once, so that the records they cause
// share one fsync (group commit). What the node sends is queued and sent
// many datagrams per system call (sendmmsg): before the node waits for its
// disk, and after each run.
//
// It is not the place for Paxos or lock logic, and it does not log:
// errors and counters go back to the caller (cmd/paxosd logs them).
package udphost
