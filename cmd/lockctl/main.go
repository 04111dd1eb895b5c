// Command lockctl is the lock service's client REPL, as the seed's was:
//
//	lockctl [-config config.json] [-timeout 5s] [command]
//
// It reads commands from standard input, one a line, so it scripts too; a
// command given on the command line (`lockctl status`, `lockctl lock 7`)
// runs alone instead.
//
//	lock K      acquire lock K, waiting while another client holds it
//	trylock K   acquire lock K if it is free, else say who holds it
//	unlock K    release lock K
//	status      the lock table, and every replica's leader and counters
//	help        this list
//	exit        quit (so does end of input)
//
// Each command prints one result line (with the fencing token of a grant),
// then the lock table as the seed printed it: `Current Locks: {...}`. A
// command that gets no answer within -timeout says so and the REPL goes
// on; the exit status is 1 if any command failed, 2 on a usage error.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"paxlock/lockmgr"
	"paxlock/lockmgr/udphost"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const help = `commands:
  lock K      acquire lock K, waiting while another client holds it
  trylock K   acquire lock K if it is free, else say who holds it
  unlock K    release lock K
  status      the lock table, and every replica's leader and drop counters
  help        this list
  exit        quit (so does the end of input)`

// nodeStatusTimeoutMax bounds the wait for each replica's status, so that
// status over a group with dead nodes stays quick.
const nodeStatusTimeoutMax = time.Second

type repl struct {
	cfg     *udphost.Config
	cl      *udphost.Client
	out     io.Writer
	timeout time.Duration
	failed  bool
}

func run(args []string, in io.Reader, out, errw io.Writer) int {
	fs := flag.NewFlagSet("lockctl", flag.ContinueOnError)
	fs.SetOutput(errw)
	configPath := fs.String("config", udphost.DefaultFile, "the group's configuration file")
	timeout := fs.Duration("timeout", 5*time.Second, "give up on a command after this long")
	fs.Usage = func() {
		fmt.Fprintf(errw, "usage: lockctl [-config config.json] [-timeout 5s] [command] (else commands from standard input)\n\n%s\n\nflags:\n", help)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *timeout <= 0 {
		fs.Usage()
		return 2
	}
	cfg, err := udphost.LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(errw, "lockctl: %v\n", err)
		return 2
	}
	cl, err := udphost.NewClient(cfg, udphost.ClientOptions{})
	if err != nil {
		fmt.Fprintf(errw, "lockctl: %v\n", err)
		return 1
	}
	defer cl.Close()
	r := &repl{cfg: cfg, cl: cl, out: out, timeout: *timeout}
	if fs.NArg() > 0 {
		r.command(strings.Join(fs.Args(), " "))
		return r.exitCode()
	}
	interactive := isTerminal(in)
	if interactive {
		fmt.Fprintf(out, "lockctl: client %v of a %d-node group (%s); type help\n", cl.ID(), len(cfg.Nodes), *configPath)
	}
	sc := bufio.NewScanner(in)
	for {
		if interactive {
			fmt.Fprint(out, "> ")
		}
		if !sc.Scan() {
			break
		}
		if !r.command(sc.Text()) {
			break
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(errw, "lockctl: reading input: %v\n", err)
		return 1
	}
	return r.exitCode()
}

func (r *repl) exitCode() int {
	if r.failed {
		return 1
	}
	return 0
}

// command runs one line and reports whether to go on.
func (r *repl) command(line string) bool {
	f := strings.Fields(line)
	if len(f) == 0 || strings.HasPrefix(f[0], "#") {
		return true
	}
	cmd, args := strings.ToLower(f[0]), f[1:]
	op, err := lockmgr.ParseOp(cmd)
	isOp := err == nil && op.Named()
	switch {
	case isOp && len(args) == 1 && !lockmgr.ValidName(args[0]):
		r.fail("%v %s: invalid lock name (want 1 to %d bytes)", op, args[0], lockmgr.NameBytesMax)
	case isOp && len(args) == 1:
		r.lockCommand(op, args[0])
	case isOp:
		r.fail("usage: %s NAME (one lock name, no spaces)", cmd)
	case (cmd == "status" || cmd == "help") && len(args) > 0:
		r.fail("usage: %s", cmd)
	case cmd == "status":
		r.status()
	case cmd == "help":
		fmt.Fprintln(r.out, help)
	case cmd == "exit" || cmd == "quit":
		return false
	default:
		r.fail("unknown command %q: try help", f[0])
	}
	return true
}

func (r *repl) fail(format string, args ...any) {
	r.failed = true
	fmt.Fprintf(r.out, format+"\n", args...)
}

// lockCommand runs lock, trylock or unlock and prints its result and then
// the lock table.
func (r *repl) lockCommand(op lockmgr.Op, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	comp, err := r.cl.Do(ctx, op, name)
	cancel()
	var na *udphost.NoAnswerError
	switch {
	case errors.As(err, &na):
		r.fail("%v %s: %v", op, name, na)
		if !na.Heard {
			return // nobody answers; asking for the table would only wait again
		}
	case err != nil:
		r.fail("%v %s: %v", op, name, err)
		return
	default:
		r.result(op, name, comp.Result)
	}
	r.table()
}

func (r *repl) result(op lockmgr.Op, name string, res lockmgr.Result) {
	switch res.Status {
	case lockmgr.Granted:
		fmt.Fprintf(r.out, "%v %s: granted (token %d)\n", op, name, res.Token)
	case lockmgr.Busy:
		fmt.Fprintf(r.out, "%v %s: busy (held by %v)\n", op, name, res.Holder)
	case lockmgr.Released:
		fmt.Fprintf(r.out, "%v %s: released\n", op, name)
	case lockmgr.NotHeld:
		fmt.Fprintf(r.out, "%v %s: not held by this client (%v)\n", op, name, r.cl.ID())
	case lockmgr.Invalid:
		r.fail("%v %s: invalid lock name (want 1 to %d bytes)", op, name, lockmgr.NameBytesMax)
	case lockmgr.Stale:
		r.fail("%v %s: outcome unknown: the group no longer knows this session; continuing as %v", op, name, r.cl.ID())
	default:
		r.fail("%v %s: unexpected answer %v", op, name, res)
	}
}

// table prints the lock table as the seed did.
func (r *repl) table() bool {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	comp, err := r.cl.Do(ctx, lockmgr.OpStatus, "")
	cancel()
	if err != nil {
		r.fail("Current Locks: unknown (status: %v)", err)
		return false
	}
	fmt.Fprintln(r.out, lockmgr.FormatStatus(comp.Locks))
	return true
}

// status prints the lock table, then each replica's view and counters.
func (r *repl) status() {
	reachable := r.table()
	for _, id := range r.cfg.Peers() {
		addr, _ := r.cfg.NodeAddr(id)
		d := min(r.timeout, nodeStatusTimeoutMax)
		if !reachable {
			d = min(d, 100*time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), d)
		rep, err := r.cl.NodeStatus(ctx, id)
		cancel()
		if err != nil {
			fmt.Fprintf(r.out, "node %d %v: no answer within %v\n", id, addr, d)
			continue
		}
		var b strings.Builder
		held := len(rep.Locks) + int(rep.Truncated)
		fmt.Fprintf(&b, "node %d %v: leader %d, %d lock%s held;", id, addr, rep.Leader, held, map[bool]string{true: "s"}[held != 1])
		for i, v := range rep.Counters {
			fmt.Fprintf(&b, " %v=%d", lockmgr.Counter(i), v)
		}
		fmt.Fprintln(r.out, b.String())
	}
}

func isTerminal(in io.Reader) bool {
	f, ok := in.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
