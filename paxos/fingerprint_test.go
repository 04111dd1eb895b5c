package paxos

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// fingerprintFields names, per struct a Replica holds, every field that
// Clone and AppendFingerprint decided about. A field added to one of
// these structs and not listed here fails TestFingerprintCoversEveryField:
// decide whether it is state (encode it, deep-copy it if mutable) or not
// (say why below), then list it.
var fingerprintFields = map[reflect.Type][]string{
	reflect.TypeFor[Replica](): {"cfg" /* fixed for a run; Rand is the caller's */, "id", "self", "quorum",
		"promised", "log", "snap", "commit", "applied", "role",
		"step", "tick" /* follow role */, "ballot", "maxSeen", "leader", "cand", "preVote", "nextSlot",
		"pending", "active", "electionElapsed", "electionTimeout", "heartbeatElapsed", "resendElapsed",
		"quorumElapsed", "backoffAttempts", "catchupElapsed", "catchupWanted", "catchupFrom", "snapIn",
		"forward", "commitDirty", "out", "rebuild", "rebuiltAt", "conflicts", "conflict"},
	reflect.TypeFor[rebuildState]():   {"nudge", "resend", "resumed", "syncSeq" /* relative to the outbox's */, "slot", "leading", "found", "heard"},
	reflect.TypeFor[slotLog]():        {"start", "s"},
	reflect.TypeFor[slot]():           {"state", "ballot", "cmds", "acks"},
	reflect.TypeFor[Snapshot]():       {"Slot", "Data"},
	reflect.TypeFor[candidateState](): {"base", "done", "rejects", "from", "best", "peerCommit", "askedSelf", "dropped"},
	reflect.TypeFor[preVoteState]():   {"active", "ballot", "votes", "heard", "resends"},
	reflect.TypeFor[snapshotIn]():     {"from", "slot", "buf", "have", "got"},
	reflect.TypeFor[outbox](): {"records", "rewrite", "sync", "msgs", "snap", "self", "committed", /* a buffer */
		"syncSeq", "rewriteSeq", "snapSeq" /* only relative to handed */, "handed", "outstanding",
		"retiredSync" /* read only in the Advance that sets it */},
	reflect.TypeFor[handedOut](): {"records", "msgs", "self", "syncSeq", "rewriteSeq", "snapSeq", "commit"},
}

func TestFingerprintCoversEveryField(t *testing.T) {
	for typ, want := range fingerprintFields {
		var got []string
		for i := range typ.NumField() {
			got = append(got, typ.Field(i).Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%v has fields %v; Clone and AppendFingerprint decided about %v: update them and this list", typ, got, want)
		}
	}
}

// TestCloneIsIndependent runs a group to a busy state, clones every
// replica, and drives original and clone through the same inputs: their
// fingerprints stay equal, and driving only the clone leaves the
// original's fingerprint as it was.
func TestCloneIsIndependent(t *testing.T) {
	c := newTestCluster(t, 3, 7)
	c.run(200)
	for i := range 5 {
		if err := c.propose(c.leader(), "cmd"+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	c.deliverOne()
	c.deliverOne()
	for _, id := range c.ids {
		r := c.reps[id]
		src := *c.cfgs[id].Rand // same draws from here on
		clone := r.Clone(&src)
		before := r.AppendFingerprint(nil)
		if got := clone.AppendFingerprint(nil); !bytes.Equal(got, before) {
			t.Fatalf("replica %d: clone's fingerprint differs from the original's", id)
		}
		for range 60 {
			clone.Tick()
			for clone.HasReady() {
				clone.Ready()
				clone.Advance()
			}
		}
		if err := clone.Propose([]byte("only-in-clone")); err != nil && err != ErrNoLeader {
			t.Fatal(err)
		}
		clone.HasReady()
		if got := r.AppendFingerprint(nil); !bytes.Equal(got, before) {
			t.Fatalf("replica %d: driving the clone changed the original", id)
		}
		if got := clone.AppendFingerprint(nil); bytes.Equal(got, before) {
			t.Fatalf("replica %d: 60 ticks and a proposal left the fingerprint as it was", id)
		}
	}
}

// TestCloneBehavesAlike: a clone given the same random draws makes the
// same Readys as the original for the same inputs.
func TestCloneBehavesAlike(t *testing.T) {
	cfg := DefaultConfig(1, []ID{1, 2, 3})
	pcg := rand.NewPCG(3, 4)
	cfg.Rand = rand.New(pcg)
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pcg2 := *pcg
	clone := r.Clone(rand.New(&pcg2))
	for i := range 300 {
		for _, x := range []*Replica{r, clone} {
			x.Tick()
			if i%7 == 0 {
				x.Step(&Message{Type: MsgPromise, From: 2, To: 1, Ballot: x.Ballot()})
			}
			for x.HasReady() {
				x.Ready()
				x.Advance()
			}
		}
		if !bytes.Equal(r.AppendFingerprint(nil), clone.AppendFingerprint(nil)) {
			t.Fatalf("after %d ticks the clone's state differs from the original's", i+1)
		}
	}
}
