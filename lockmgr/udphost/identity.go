package udphost

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"paxlock/paxos"
	"paxlock/paxos/wal"
)

// IdentityFile is a node's identity record in its data directory: which
// group and which node the directory belongs to. It is written once the
// node's log first holds something durable (promises, acceptances, chosen
// values), and from then on the log must be there: a node that finds its
// identity but a missing or empty log has lost what it promised and
// accepted (a deleted, emptied or overwritten log), and starting it empty
// could make a chosen value unchosen. It refuses to start instead. The
// log holds the same identity in a record of its own (identityRecord), so
// a log moved into another node's directory is refused too.
const IdentityFile = "IDENTITY"

type identity struct {
	Cluster string   `json:"cluster"`
	Node    paxos.ID `json:"node"`
}

// ClusterID names the group, in identity records and (hashed) in every
// packet: the config's cluster name if it has one, else the sorted node
// ids. (Addresses are left out, so that a node may move.) Two groups that
// can reach each other should have names of their own: packets of a group
// with another id are dropped and counted (other_cluster).
func (c *Config) ClusterID() string {
	if c.Cluster != "" {
		return "cluster:" + c.Cluster
	}
	var b strings.Builder
	b.WriteString("nodes")
	for _, id := range c.Peers() {
		fmt.Fprintf(&b, ":%d", id)
	}
	return b.String()
}

// ErrAmnesia is wrapped by the error of a node whose identity says it had
// a log that is now missing or empty.
var ErrAmnesia = errors.New("udphost: the log is gone")

// checkIdentity holds the data directory's identity against this node and
// its log: it reports whether the identity is on record already.
func checkIdentity(dir string, cfg *Config, id paxos.ID, records int, rebuilding bool) (bool, error) {
	raw, err := os.ReadFile(filepath.Join(dir, IdentityFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("udphost: read %s: %w", filepath.Join(dir, IdentityFile), err)
	}
	var idn identity
	if err := json.Unmarshal(raw, &idn); err != nil {
		return false, fmt.Errorf("udphost: %s: not an identity record: %v", filepath.Join(dir, IdentityFile), err)
	}
	switch {
	case idn.Node != id:
		return false, fmt.Errorf("udphost: %s belongs to node %d, not node %d: start node %d with its own data directory",
			dir, idn.Node, id, id)
	case idn.Cluster != cfg.ClusterID():
		return false, fmt.Errorf("udphost: %s belongs to group %q, not this config's %q", dir, idn.Cluster, cfg.ClusterID())
	case records == 0 && !rebuilding:
		return false, fmt.Errorf("%w: %s records node %d of this group, but its log %s is missing or holds nothing "+
			"(deleted, emptied, or overwritten): what this replica promised and accepted is lost, and starting it "+
			"empty could undo a chosen value, so it refuses. Two ways out: restore the data directory from a backup "+
			"of this node and start it as before; or start it with -rejoin, and it rebuilds from the others as a "+
			"non-voting member (a majority of the group must be up) and votes again once that is safe",
			ErrAmnesia, filepath.Join(dir, IdentityFile), id, filepath.Join(dir, wal.LogName))
	}
	return true, nil
}

// writeIdentity records the directory's identity, durably.
func writeIdentity(dir string, cfg *Config, id paxos.ID) error {
	raw, err := json.Marshal(identity{Cluster: cfg.ClusterID(), Node: id})
	if err != nil {
		return err
	}
	return writeSynced(dir, IdentityFile, append(raw, '\n'))
}

// writeSynced writes DIR/name atomically and durably: a temporary file,
// synced, renamed over, and the directory synced.
func writeSynced(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("udphost: %s: %w", name, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("udphost: %s: %w", name, err)
	}
	return nil
}

// RebuildFile marks a data directory whose replica is rebuilding after a
// disk loss (paxosd -rejoin): its log holds only chosen values and
// snapshots it learned since, no promise and no acceptance, and it must
// not vote until the rebuild ends (see paxos.Config.Rejoin). The mark is
// written once the old log is set aside and removed once the rebuilt
// replica's first promise is durable; a node that finds it rebuilds again,
// with or without -rejoin.
const RebuildFile = "REBUILDING"

// SetAsidePrefix names what -rejoin keeps of the log it replaces:
// DIR/wal.before-rejoin.N, for an operator to inspect or delete.
const SetAsidePrefix = wal.LogName + ".before-rejoin."

// openLog opens the node's log, starting or continuing a rebuild: with
// rejoin (and no rebuild under way) whatever log is there, damaged or
// not, is set aside and the rebuild mark written once the log is empty.
// identify records the directory's identity if it has none: it is written
// before anything is set aside, so that a crash at any point in between
// leaves a directory that refuses to start (identity, no log, no mark)
// rather than one that starts as a new voter.
func openLog(dir string, rejoin bool, identify func() error) (*wal.Log, []paxos.Record, wal.Recovery, bool, error) {
	mark := filepath.Join(dir, RebuildFile)
	_, err := os.Stat(mark)
	underway := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, wal.Recovery{}, false, fmt.Errorf("udphost: %w", err)
	}
	log, recs, rec, err := wal.Open(dir)
	switch {
	case underway && errors.Is(err, wal.ErrCorrupt) && !rejoin:
		return nil, nil, wal.Recovery{}, false, fmt.Errorf("%w (a rebuild is under way, %s: start with -rejoin to set this log aside and rebuild again)", err, mark)
	case !rejoin || underway && err == nil:
		return log, recs, rec, underway, err
	}
	if err := identify(); err != nil {
		if log != nil {
			log.Close()
		}
		return nil, nil, wal.Recovery{}, false, err
	}
	switch {
	case err != nil && !errors.Is(err, wal.ErrCorrupt):
		return nil, nil, wal.Recovery{}, false, err
	case err == nil && (len(recs) > 0 || rec.TruncatedBytes > 0):
		// Renamed while the log is open, so under its lock. (wal.Open
		// has cut a torn tail off already: the copy kept lacks it.)
		err = setAside(dir)
		log.Close()
		if err != nil {
			return nil, nil, wal.Recovery{}, false, err
		}
		if log, recs, rec, err = wal.Open(dir); err != nil {
			return nil, nil, wal.Recovery{}, false, err
		}
	case err != nil:
		// A log wal refuses: nobody holds the lock now (wal.Open let go
		// of it when it refused), so the rename is not under it.
		if err := setAside(dir); err != nil {
			return nil, nil, wal.Recovery{}, false, err
		}
		if log, recs, rec, err = wal.Open(dir); err != nil {
			return nil, nil, wal.Recovery{}, false, err
		}
	}
	if len(recs) > 0 {
		log.Close()
		return nil, nil, wal.Recovery{}, false, fmt.Errorf("udphost: %s: the log is not empty after setting it aside", dir)
	}
	if err := writeSynced(dir, RebuildFile, []byte("rebuilding after a disk loss: see paxosd -rejoin\n")); err != nil {
		log.Close()
		return nil, nil, wal.Recovery{}, false, err
	}
	return log, nil, rec, true, nil
}

// setAside renames the log to the first free SetAsidePrefix+N.
func setAside(dir string) error {
	from := filepath.Join(dir, wal.LogName)
	if _, err := os.Stat(from); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for n := 1; ; n++ {
		to := filepath.Join(dir, fmt.Sprintf("%s%d", SetAsidePrefix, n))
		if _, err := os.Stat(to); errors.Is(err, os.ErrNotExist) {
			if err := os.Rename(from, to); err != nil {
				return fmt.Errorf("udphost: set the old log aside: %w", err)
			}
			return syncDir(dir)
		}
	}
}

// clearRebuild removes the rebuild mark, durably: the replica's promise
// is on disk and it votes from now on.
func clearRebuild(dir string) error {
	if err := os.Remove(filepath.Join(dir, RebuildFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("udphost: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("udphost: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("udphost: sync %s: %w", dir, err)
	}
	return nil
}

// identityRecord is the log's copy of the identity: its first record (a
// paxos.RecHost the replica ignores), so that a log moved into another
// node's directory, or another group's, is refused as well.
func identityRecord(cfg *Config, id paxos.ID) paxos.Record {
	raw, _ := json.Marshal(identity{Cluster: cfg.ClusterID(), Node: id}) // cannot fail: a string and a number
	return paxos.Record{Type: paxos.RecHost, Data: raw}
}

// checkLogIdentity holds the identity in the log's first record, if it
// has one, against this node, and returns how many records are the
// replica's (not the host's).
func checkLogIdentity(path string, recs []paxos.Record, cfg *Config, id paxos.ID) (replica int, logged bool, err error) {
	for i := range recs {
		if recs[i].Type != paxos.RecHost {
			replica++
			continue
		}
		var idn identity
		if err := json.Unmarshal(recs[i].Data, &idn); err != nil {
			return 0, false, fmt.Errorf("udphost: %s: record %d is not an identity record: %v", path, i, err)
		}
		if idn.Node != id || idn.Cluster != cfg.ClusterID() {
			return 0, false, fmt.Errorf("udphost: the log %s belongs to node %d of group %q, not node %d of %q: "+
				"it was moved or copied here; put it back, or start this node with -rejoin (the log is set aside)",
				path, idn.Node, idn.Cluster, id, cfg.ClusterID())
		}
		logged = true
	}
	return replica, logged, nil
}
