package check

import (
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"paxlock/lockmgr"
	"paxlock/paxos"
)

// cloneFields names, per struct Clone copies, every field it decided
// about; a field added without a decision fails TestCloneCoversEveryField.
var cloneFields = map[reflect.Type][]string{
	reflect.TypeFor[Checkers]():   {"Consensus", "Durability", "Oracle", "Hashes", "Rejoin", "readPrefix", "owned" /* none, in a copy */},
	reflect.TypeFor[Rejoin]():     {"rebuilding", "lostAt", "voted", "owed", "nonces", "err"},
	reflect.TypeFor[Consensus]():  {"quorum", "slots", "pending", "next", "booted", "prefix", "err"},
	reflect.TypeFor[slotVotes]():  {"votes", "chosen"},
	reflect.TypeFor[vote]():       {"ballot", "value", "cmds" /* shared: never written */, "voters"},
	reflect.TypeFor[Durability](): {"disks", "chosen" /* asks the owning Checkers' Consensus */, "err"},
	reflect.TypeFor[disk]():       {"promised", "before", "accepted", "snapSlot", "pending", "violation"},
	reflect.TypeFor[ballots]():    {"base", "b"},
	reflect.TypeFor[Oracle](): {"sm", "next", "locks", "sessions", "nonces", "lastSession", "lead", "slots", "cursor",
		"leader", "pending", "err", "prefixes", "reads", "names", "buf" /* scratch */},
	reflect.TypeFor[refLock]():    {"holder", "token", "waiters"},
	reflect.TypeFor[refSession](): {"nonce", "secret", "leaseMs", "seq", "result", "waiting", "held", "mac", "sum" /* made from secret */},
	reflect.TypeFor[refOutcome](): {"cmd", "result", "grants" /* shared: never written once recorded */},
	reflect.TypeFor[StateHash]():  {"seen", "err"},
	reflect.TypeFor[History]():    {"ops", "abandoned", "granted", "waiting"},
}

func TestCloneCoversEveryField(t *testing.T) {
	for typ, want := range cloneFields {
		var got []string
		for i := range typ.NumField() {
			got = append(got, typ.Field(i).Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%v has fields %v; Clone decided about %v: update it and this list", typ, got, want)
		}
	}
}

// TestCloneIsIndependent: a vote that makes a clone's slot chosen twice
// fails the clone only, and the original's votes are unchanged.
func TestCloneIsIndependent(t *testing.T) {
	c := New(3, lockmgr.SMConfig{})
	for id := paxos.ID(1); id <= 3; id++ {
		c.Booted(id, nil)
	}
	accept := func(x *Checkers, id paxos.ID, round uint64, cmd string) {
		e := paxos.Entry{Slot: 0, Ballot: paxos.Ballot{Round: round, Node: 1}, Cmds: [][]byte{[]byte(cmd)}}
		x.Appended(id, []paxos.Record{{Type: paxos.RecAccept, Entry: e}})
		x.Synced(id)
	}
	accept(c, 1, 1, "a")
	accept(c, 2, 1, "a")
	x := c.Clone()
	accept(x, 3, 2, "b")
	accept(x, 2, 2, "b")
	if x.Err() == nil {
		t.Fatal("the clone chose two values for slot 0 without a failure")
	}
	if c.Err() != nil {
		t.Fatalf("the original failed on the clone's votes: %v", c.Err())
	}
	if v, ok := c.Consensus.Chosen(0); !ok || v != valueHash([][]byte{[]byte("a")}) {
		t.Fatal("the original lost its chosen value")
	}
}

// TestCloneIsLazy: a copy shares each checker until an event changes it,
// a message judged on a shared durability checker asks the copy's own
// consensus checker which slots are chosen, and a failure found there is
// the copy's alone.
func TestCloneIsLazy(t *testing.T) {
	c := New(3, lockmgr.SMConfig{})
	for id := paxos.ID(1); id <= 3; id++ {
		c.Booted(id, nil)
	}
	b := paxos.Ballot{Round: 1, Node: 1}
	accept := func(x *Checkers, id paxos.ID) {
		x.Appended(id, []paxos.Record{{Type: paxos.RecAccept, Entry: paxos.Entry{Slot: 0, Ballot: b, Cmds: [][]byte{[]byte("a")}}}})
		x.Synced(id)
	}
	accept(c, 1)
	c.Appended(3, []paxos.Record{{Type: paxos.RecPromise, Ballot: b}})
	c.Synced(3)
	ack := &paxos.Message{Type: paxos.MsgAccepted, From: 3, To: 1, Ballot: b, Slots: []uint64{0}}

	x := c.Clone()
	if x.Consensus != c.Consensus || x.Durability != c.Durability || x.Oracle != c.Oracle {
		t.Fatal("a fresh copy does not share its checkers")
	}
	x.Sent(3, ack) // slot 0 is not chosen, and replica 3 has not accepted it
	if x.Err() == nil || x.Err().Kind != FailDurability {
		t.Fatalf("the copy acknowledged an unaccepted slot without a failure: %v", x.Err())
	}
	if c.Err() != nil || c.Durability.Err() != nil {
		t.Fatalf("the copy's failure reached the original: %v", c.Err())
	}

	y := c.Clone()
	accept(y, 2) // chosen in y only
	if y.Consensus == c.Consensus || y.Durability == c.Durability {
		t.Fatal("an event changed a checker the copy shares")
	}
	// z's consensus checker alone sees replica 2's vote: its durability
	// checker is still the original's, and must ask z's which slots are
	// chosen (slot 0 is, so acknowledging it vouches for nothing new).
	z := c.Clone()
	z.consensus().Appended(2, []paxos.Record{{Type: paxos.RecAccept, Entry: paxos.Entry{Slot: 0, Ballot: b, Cmds: [][]byte{[]byte("a")}}}})
	z.Consensus.Synced(2)
	z.Sent(3, ack)
	if z.Err() != nil {
		t.Fatalf("the shared durability checker asked another copy's consensus checker: %v", z.Err())
	}
	if z.Durability != c.Durability {
		t.Fatal("a message that passed copied the durability checker")
	}
	if _, ok := c.Consensus.Chosen(0); ok {
		t.Fatal("the original's slot 0 became chosen")
	}
}

// TestRejoinChangedByIsSound: whenever changedBy says a message leaves
// the rejoin checker unchanged (so a copy of the checkers keeps sharing
// it), Sent indeed changes nothing, over random runs of losses, restarts,
// rejoin commands chosen and messages of every kind.
func TestRejoinChangedByIsSound(t *testing.T) {
	types := []paxos.MsgType{paxos.MsgPromise, paxos.MsgAccepted, paxos.MsgPrepare, paxos.MsgPreVote,
		paxos.MsgAccept, paxos.MsgForward, paxos.MsgHeartbeat}
	shared := 0
	rapid.Check(t, func(t *rapid.T) {
		j := NewRejoin(3)
		id := func(label string) paxos.ID { return paxos.ID(rapid.IntRange(1, 3).Draw(t, label)) }
		rejoinCmd := func() []byte {
			return lockmgr.Command{Op: lockmgr.OpRejoin, Arg: rapid.Uint64Range(1, 3).Draw(t, "nonce"), Node: id("node")}.Encode(nil)
		}
		for range rapid.IntRange(1, 40).Draw(t, "events") {
			switch rapid.IntRange(0, 9).Draw(t, "event") {
			case 0:
				j.DiskLost(id("lost"))
			case 1:
				j.Booted(id("booted"))
			case 2:
				j.Committed(id("committed"), paxos.Entry{Cmds: [][]byte{rejoinCmd()}})
			default:
				from := id("from")
				m := &paxos.Message{Type: rapid.SampledFrom(types).Draw(t, "type"), From: from,
					Ballot: paxos.Ballot{Round: rapid.Uint64Range(0, 3).Draw(t, "round"), Node: id("ballot node")},
					Reject: rapid.Bool().Draw(t, "reject")}
				if rapid.Bool().Draw(t, "entries") {
					cmd := []byte("x")
					if rapid.Bool().Draw(t, "rejoin") {
						cmd = rejoinCmd()
					}
					m.Entries = []paxos.Entry{{Cmds: [][]byte{cmd}}}
				}
				before := j.clone()
				changed := j.changedBy(from, m)
				j.Sent(from, m)
				if !changed {
					shared++
					if !reflect.DeepEqual(before, j) {
						t.Fatalf("changedBy said %s leaves the checker as it was, and Sent changed it", paxos.DescribeMessage(m))
					}
				}
			}
		}
	})
	if shared == 0 {
		t.Fatal("changedBy never said a message changes nothing: the test judged nothing")
	}
}
