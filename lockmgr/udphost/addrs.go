package udphost

import (
	"net/netip"

	"paxlock/lockmgr"
)

// ClientsMax bounds the client endpoints a node remembers; past it the
// oldest is forgotten (a client that speaks again gets a new handle, and
// the server learns it from the client's next retry).
const ClientsMax = 1 << 16

// addrTable maps socket addresses to lockmgr.Addr handles and back. A
// packet from replica i's configured address is from Addr(i), whatever it
// claims to be; any other source is a client, given a handle above every
// replica id. Handles are never reused, so a reply for a forgotten client
// cannot reach a newcomer. Only the goroutine that owns the node uses it.
type addrTable struct {
	replicaOf map[netip.AddrPort]lockmgr.Addr
	replicaAt map[lockmgr.Addr]netip.AddrPort
	clientOf  map[netip.AddrPort]lockmgr.Addr
	clientAt  map[lockmgr.Addr]netip.AddrPort
	order     []netip.AddrPort // clients in order of arrival, a ring of ClientsMax
	head      int
	next      lockmgr.Addr
	max       int
}

func newAddrTable(cfg *Config, clientsMax int) *addrTable {
	t := &addrTable{
		replicaOf: map[netip.AddrPort]lockmgr.Addr{},
		replicaAt: map[lockmgr.Addr]netip.AddrPort{},
		clientOf:  map[netip.AddrPort]lockmgr.Addr{},
		clientAt:  map[lockmgr.Addr]netip.AddrPort{},
		next:      lockmgr.Addr(cfg.maxID()) + 1,
		max:       clientsMax,
	}
	for _, n := range cfg.Nodes {
		t.replicaOf[n.addr] = lockmgr.Addr(n.ID)
		t.replicaAt[lockmgr.Addr(n.ID)] = n.addr
	}
	return t
}

// from is the handle of a packet's source.
func (t *addrTable) from(ap netip.AddrPort) lockmgr.Addr {
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if a, ok := t.replicaOf[ap]; ok {
		return a
	}
	if a, ok := t.clientOf[ap]; ok {
		return a
	}
	if len(t.order) == t.max {
		old := t.order[t.head]
		delete(t.clientAt, t.clientOf[old])
		delete(t.clientOf, old)
		t.order[t.head] = ap
		t.head = (t.head + 1) % t.max
	} else {
		t.order = append(t.order, ap)
	}
	a := t.next
	t.next++
	t.clientOf[ap], t.clientAt[a] = a, ap
	return a
}

// to is the socket address of a handle, if it is still known.
func (t *addrTable) to(a lockmgr.Addr) (netip.AddrPort, bool) {
	if ap, ok := t.replicaAt[a]; ok {
		return ap, true
	}
	ap, ok := t.clientAt[a]
	return ap, ok
}
