// Command paxgroup starts a whole local group, as the seed's main.py did:
// every node of the configuration as its own paxosd process, so that any
// one can be killed (kill -9 PID) and restarted (by paxgroup with -restart,
// else by hand).
//
//	paxgroup [-config config.json] [-data paxdata] [-paxosd PATH] [-restart] [-quiet] [-grace 5s]
//
// Node N keeps its log in DATA/nodeN. paxgroup prints each node's pid and
// address once the node says it listens (one that fails to start stops the
// group, exit 1), prefixes the nodes' log lines with [nodeN] (each node
// prints its lock table as it changes, unless -quiet), restarts a node
// that died (-restart) or says how, and on SIGINT or SIGTERM stops every node with SIGTERM
// (SIGKILL after -grace). It finds paxosd beside its own executable, else
// builds it with `go build` into DATA/bin (so `go run ./cmd/paxgroup` works
// on a fresh clone), else takes it from PATH.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"paxlock/lockmgr/udphost"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, out, errw io.Writer) int {
	fs := flag.NewFlagSet("paxgroup", flag.ContinueOnError)
	fs.SetOutput(errw)
	var opt options
	fs.StringVar(&opt.config, "config", udphost.DefaultFile, "the group's configuration file")
	fs.StringVar(&opt.data, "data", "paxdata", "root of the nodes' data directories (DATA/nodeN)")
	fs.StringVar(&opt.paxosd, "paxosd", "", "the paxosd binary (default: beside paxgroup, else built, else from PATH)")
	fs.DurationVar(&opt.grace, "grace", 5*time.Second, "on shutdown, SIGKILL nodes still running after this long")
	fs.BoolVar(&opt.quiet, "quiet", false, "the nodes do not print their lock tables as they change")
	fs.BoolVar(&opt.restart, "restart", false, "start a node again when it exits (crashes)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	cfg, err := udphost.LoadConfig(opt.config)
	if err != nil {
		fmt.Fprintf(errw, "paxgroup: %v\n", err)
		return 2
	}
	if !cfg.Keyed() {
		fmt.Fprintf(errw, "paxgroup: warning: %s\n", udphost.UnkeyedWarning)
	}
	g := &launcher{opt: opt, cfg: cfg, out: out, errw: errw}
	return g.run(ctx)
}
