package check

import (
	"paxlock/lockmgr"
)

// Fenced checks the fenced resource from the writes it accepted, in the
// order it accepted them: per resource, the tokens never go down, so no
// two holders' writes interleave (a holder's writes carry its grant's
// token, and a newer grant has a higher one); and every write carries a
// token the group really granted that session for that lock, as read
// from the commands replicas applied. It does not ask the storage what it
// checked: a storage that ignores tokens, or a client that writes without
// its token after its lease ran out, shows here as a token going down.
type Fenced struct {
	last   map[string]written            // per resource: the latest accepted write
	grants map[grantKey]lockmgr.ClientID // (lock, token) -> the session granted it
	err    *Failure
}

type written struct {
	session lockmgr.ClientID
	token   uint64
	atNs    int64
}

type grantKey struct {
	name  string
	token uint64
}

// NewFenced returns an empty checker.
func NewFenced() *Fenced {
	return &Fenced{last: map[string]written{}, grants: map[grantKey]lockmgr.ClientID{}}
}

// Err is the first failure found, or nil.
func (f *Fenced) Err() *Failure { return f.err }

// Applied: a replica applied c with result r, granting grants.
func (f *Fenced) Applied(c lockmgr.Command, r lockmgr.Result, grants []lockmgr.Grant) {
	if (c.Op == lockmgr.OpLock || c.Op == lockmgr.OpTryLock) && r.Status == lockmgr.Granted {
		f.grants[grantKey{c.Name, r.Token}] = c.Client
	}
	for _, g := range grants {
		f.grants[grantKey{g.Name, g.Token}] = g.Client
	}
}

// Wrote: the resource accepted a write at now.
func (f *Fenced) Wrote(now int64, resource string, s lockmgr.ClientID, token uint64, fenced bool) {
	if f.err != nil {
		return
	}
	if g, ok := f.grants[grantKey{resource, token}]; !ok || g != s {
		f.err = failf(FailFencedWrite, "%v wrote %q at %s with token %d, which the group never granted it", s, resource, fmtNs(now), token)
		return
	}
	if prev, ok := f.last[resource]; ok && token < prev.token {
		how := "a fenced write"
		if !fenced {
			how = "a write without its token"
		}
		f.err = failf(FailFencedWrite, "%v's %s to %q at %s (token %d) came after %v's (token %d, at %s): two holders' writes interleave",
			s, how, resource, fmtNs(now), token, prev.session, prev.token, fmtNs(prev.atNs))
		return
	}
	f.last[resource] = written{session: s, token: token, atNs: now}
}
