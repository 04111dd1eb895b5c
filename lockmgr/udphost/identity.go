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
// could make a chosen value unchosen. It refuses to start instead.
const IdentityFile = "IDENTITY"

type identity struct {
	Cluster string   `json:"cluster"`
	Node    paxos.ID `json:"node"`
}

// ClusterID names the group in identity records: the sorted node ids.
// (Addresses are left out, so that a node may move.)
func (c *Config) ClusterID() string {
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
func checkIdentity(dir string, cfg *Config, id paxos.ID, records int) (bool, error) {
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
	case records == 0:
		return false, fmt.Errorf("%w: %s records node %d of this group, but its log %s is missing or holds nothing "+
			"(deleted, emptied, or overwritten): what this replica promised and accepted is lost, and starting it "+
			"empty could undo a chosen value, so it refuses. Two ways out: restore the data directory from a backup "+
			"of this node; or keep this node down (the others go on while a majority of the group is up) until a "+
			"safe rejoin is available. If the node was only just created and never ran, remove %s",
			ErrAmnesia, filepath.Join(dir, IdentityFile), id, filepath.Join(dir, wal.LogName), filepath.Join(dir, IdentityFile))
	}
	return true, nil
}

// writeIdentity records the directory's identity, durably.
func writeIdentity(dir string, cfg *Config, id paxos.ID) error {
	raw, err := json.Marshal(identity{Cluster: cfg.ClusterID(), Node: id})
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, IdentityFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("udphost: identity: %w", err)
	}
	_, err = f.Write(append(raw, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, IdentityFile))
	}
	if err == nil {
		var d *os.File
		if d, err = os.Open(dir); err == nil {
			err = d.Sync()
			d.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("udphost: identity: %w", err)
	}
	return nil
}
