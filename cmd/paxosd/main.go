// Command paxosd runs one replica of the lock service on UDP:
//
//	paxosd -config config.json -id N -data DIR
//
// It recovers the replica from its durable log in DIR (cutting off a torn
// tail, refusing to start on corruption in the middle, or on a log that is
// gone when DIR/IDENTITY says there was one), listens on the
// address config.json gives replica N, and serves until SIGTERM or SIGINT,
// on which it shuts down cleanly. Everything it acknowledged was fsynced
// before the acknowledgment left, so SIGKILL loses nothing acknowledged.
// cmd/paxgroup starts a whole group.
//
//	paxosd -config config.json -id N -data DIR -rejoin
//
// brings back a node that lost its log (a wiped or replaced disk): what
// is left of the log is set aside, and the node rebuilds from the others
// as a non-voting member, voting again once a slot chosen after the
// rebuild began is known to it (DIR/REBUILDING marks a rebuild under way;
// a restart continues it).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"paxlock/lockmgr"
	"paxlock/lockmgr/udphost"
	"paxlock/paxos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// run serves until ctx is done (a clean shutdown, exit status 0) or the
// node stops on its own (1); 2 is a usage or configuration error.
func run(ctx context.Context, args []string, errw io.Writer) int {
	fs := flag.NewFlagSet("paxosd", flag.ContinueOnError)
	fs.SetOutput(errw)
	configPath := fs.String("config", udphost.DefaultFile, "the group's configuration file")
	id := fs.Uint("id", 0, "this replica's id in the configuration (required)")
	dataDir := fs.String("data", "", "data directory for the durable log (default paxdata/nodeN)")
	logEvery := fs.Duration("stats", 10*time.Second, "log counters this often when they change (0: never)")
	quiet := fs.Bool("quiet", false, "do not print the lock table when it changes")
	rejoin := fs.Bool("rejoin", false, "this node lost its log: set aside what is left of it, rebuild from the others\n"+
		"as a non-voting member, and vote again once that is safe")
	fs.Usage = func() {
		fmt.Fprintf(errw, "usage: paxosd -config config.json -id N -data DIR\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *id == 0 || *id > 1<<32-1 {
		fmt.Fprintln(errw, "paxosd: -id N is required (a replica id from the config)")
		fs.Usage()
		return 2
	}
	log := slog.New(slog.NewTextHandler(errw, nil)).With("node", *id)
	cfg, err := udphost.LoadConfig(*configPath)
	if err != nil {
		log.Error("bad configuration", "err", err)
		return 2
	}
	if *dataDir == "" {
		*dataDir = fmt.Sprintf("paxdata/node%d", *id)
	}
	opts := udphost.NodeOptions{Config: cfg, ID: paxos.ID(*id), DataDir: *dataDir, Rejoin: *rejoin}
	if !*quiet {
		// The lock table, as the seed printed it, whenever it changes
		// (rate-limited): one line of its own, like the seed's.
		var mu sync.Mutex
		opts.OnTable = func(table string) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintln(errw, table)
		}
	}
	node, err := udphost.StartNode(opts)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	rec := node.Recovery()
	log.Info("listening", "addr", node.Addr(), "data", *dataDir, "records", rec.Records,
		"log_bytes", rec.Bytes, "torn_tail_bytes", rec.TruncatedBytes, "group", len(cfg.Nodes), "cluster", cfg.ClusterID(),
		"authenticated", cfg.Keyed(), "tick", cfg.Tick())
	if rec.TruncatedBytes > 0 {
		log.Warn("cut off a torn tail left by a crash", "bytes", rec.TruncatedBytes)
	}
	if !cfg.Keyed() {
		log.Warn(udphost.UnkeyedWarning)
	}
	first, _ := node.Stats()
	if first.Rebuilding {
		log.Warn("rebuilding after a disk loss: this node votes in no quorum until it has caught up "+
			"and seen a slot chosen after the rebuild began", "mark", filepath.Join(*dataDir, udphost.RebuildFile))
	}

	watch(ctx, log, node, *logEvery, first.Rebuilding)
	if ctx.Err() != nil {
		log.Info("shutting down")
		st, _ := node.Stats()
		if err := node.Close(); err != nil {
			log.Error("shutdown", "err", err)
			return 1
		}
		logStats(log, "stopped", st)
		return 0
	}
	log.Error("stopped", "err", node.Err())
	return 1
}

// watch logs role and leader changes, and the counters when they moved,
// until ctx is done or the node stops on its own.
func watch(ctx context.Context, log *slog.Logger, node *udphost.Node, every time.Duration, rebuilding bool) {
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	last := udphost.Stats{Rebuilding: rebuilding}
	lastLogged := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-node.Done():
			return
		case <-poll.C:
		}
		st, ok := node.Stats()
		if !ok {
			return
		}
		if last.Rebuilding && !st.Rebuilding {
			log.Info("rebuilt: votes again", "commit", st.Commit)
		}
		if st.Role != last.Role || st.Leader != last.Leader {
			log.Info("role", "role", st.Role, "leader", st.Leader, "commit", st.Commit)
		}
		if every > 0 && time.Since(lastLogged) >= every && st.Counters != last.Counters {
			logStats(log, "counters", st)
			lastLogged = time.Now()
		}
		last = st
	}
}

func logStats(log *slog.Logger, msg string, st udphost.Stats) {
	args := []any{"commit", st.Commit, "fsyncs", st.Log.Syncs, "records", st.Log.Records,
		"log_bytes", st.Log.Bytes, "snapshots", st.Log.Rewrites, "packets", st.Host.Packets,
		"read_errors", st.Host.ReadErrors, "send_errors", st.Host.SendErrors}
	for i, v := range st.Counters {
		args = append(args, lockmgr.Counter(i).String(), v)
	}
	log.Info(msg, args...)
}
