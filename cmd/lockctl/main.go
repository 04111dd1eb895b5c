// Command lockctl is the lock service's client REPL, as the seed's was:
//
//	lockctl [-config config.json] [-timeout 5s] [command]
//	lockctl [-config config.json] [-timeout 0] hold NAME -- CMD [ARGS...]
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
// Everything runs in one session, opened at start and kept alive in the
// background: its locks are held while lockctl runs and released when it
// ends (exit, end of input, Ctrl-C, SIGTERM); a lockctl that is killed
// outright loses them when the group expires its lease. A lock that waits
// longer than -timeout gives up and withdraws its wait.
//
// hold takes lock NAME, runs CMD with the lock's fencing token in
// PAXLOCK_TOKEN, and releases the lock when CMD exits, with CMD's exit
// status. If the lease is lost while CMD runs, CMD gets SIGTERM: anything
// it guards with the lock must check the token, since a lease can only
// say when a lock may have moved on, not stop a process acting on it.
//
// Each command prints one result line (with the fencing token of a grant),
// then the lock table as the seed printed it: `Current Locks: {...}`. A
// command that gets no answer within -timeout says so and the REPL goes
// on, as does a line over 4096 bytes, refused. The exit status is 1 if any
// command failed (for a command given on the command line, also a busy
// trylock or an unlock of a lock not held), 2 on a usage error.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"paxlock/lockmgr"
	"paxlock/lockmgr/udphost"
	"paxlock/paxos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal ends lockctl cleanly (its session closed); a second
	// one kills it at once, as a signal normally would.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const help = `commands:
  lock K      acquire lock K, waiting while another client holds it
  trylock K   acquire lock K if it is free, else say who holds it
  unlock K    release lock K
  status      the lock table, and every replica's leader and drop counters
  help        this list
  exit        quit (so does the end of input); the session's locks are released`

// nodeStatusTimeoutMax bounds the wait for each replica's status, so that
// status over a group with dead nodes stays quick.
const nodeStatusTimeoutMax = time.Second

// closeTimeout bounds the wait for the session's close at the end.
const closeTimeout = 2 * time.Second

type repl struct {
	cfg     *udphost.Config
	cl      *udphost.Client
	ctx     context.Context // ends on Ctrl-C or SIGTERM
	mu      sync.Mutex      // one writer of out at a time: the lease watcher prints too
	out     io.Writer
	errw    io.Writer
	timeout time.Duration // 0: wait forever
	failed  bool
	// oneShot: a command from the command line. Its exit status also
	// says whether it did what it asked: a busy trylock or an unlock of a
	// lock not held exits 1, so scripts can branch on it.
	oneShot bool
	json    bool // -json: one object per result (see jsonResult)
}

// jsonResult is what -json prints for each command, one object a line.
// Fields that do not apply are left out.
type jsonResult struct {
	Op      string     `json:"op,omitempty"`
	Lock    string     `json:"lock,omitempty"`
	Status  string     `json:"status,omitempty"` // the group's answer: granted, busy, released, not-held, ...
	Token   uint64     `json:"token,omitempty"`
	Holder  string     `json:"holder,omitempty"`
	Session string     `json:"session,omitempty"`
	Error   string     `json:"error,omitempty"` // no final answer, or a refused command
	Unknown bool       `json:"outcome_unknown,omitempty"`
	Locks   []jsonLock `json:"locks,omitempty"`
	Nodes   []jsonNode `json:"nodes,omitempty"`
	Help    string     `json:"help,omitempty"`
}

type jsonLock struct {
	Name    string   `json:"name"`
	Holder  string   `json:"holder"`
	Token   uint64   `json:"token"`
	Waiters []string `json:"waiters,omitempty"`
}

type jsonNode struct {
	ID        int               `json:"id"`
	Addr      string            `json:"addr"`
	Leader    int               `json:"leader"`
	Held      int               `json:"locks_held"`
	Freshness string            `json:"freshness,omitempty"`
	Counters  map[string]uint64 `json:"counters,omitempty"`
	Error     string            `json:"error,omitempty"`
}

// emit prints one -json object.
func (r *repl) emit(v jsonResult) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":"lockctl: cannot encode a result"}`)
	}
	r.print(string(b) + "\n")
}

func jsonLocks(ls []lockmgr.LockStatus) []jsonLock {
	out := make([]jsonLock, 0, len(ls))
	for _, l := range ls {
		j := jsonLock{Name: l.Name, Holder: l.Holder.String(), Token: l.Token}
		for _, w := range l.Waiters {
			j.Waiters = append(j.Waiters, w.String())
		}
		out = append(out, j)
	}
	return out
}

func run(ctx context.Context, args []string, in io.Reader, out, errw io.Writer) int {
	fs := flag.NewFlagSet("lockctl", flag.ContinueOnError)
	fs.SetOutput(errw)
	configPath := fs.String("config", udphost.DefaultFile, "the group's configuration file")
	timeout := fs.Duration("timeout", 5*time.Second, "give up on a command after this long (0: wait forever)")
	jsonOut := fs.Bool("json", false, "print one JSON object per result instead of text")
	fs.Usage = func() {
		fmt.Fprintf(errw, "usage: lockctl [-config config.json] [-timeout 5s] [command] (else commands from standard input)\n"+
			"       lockctl [-config config.json] [-timeout 0] hold NAME -- CMD [ARGS...]\n\n%s\n\nflags:\n", help)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *timeout < 0 {
		fs.Usage()
		return 2
	}
	var holdArgs []string
	if fs.Arg(0) == "hold" {
		holdArgs = fs.Args()[1:]
		if len(holdArgs) < 3 || holdArgs[1] != "--" || !lockmgr.ValidName(holdArgs[0]) {
			fmt.Fprintln(errw, "usage: lockctl hold NAME -- CMD [ARGS...]")
			return 2
		}
	}
	cfg, err := udphost.LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(errw, "lockctl: %v\n", err)
		return 2
	}
	r := &repl{cfg: cfg, ctx: ctx, out: out, errw: errw, timeout: *timeout, json: *jsonOut}
	lost := make(chan lockmgr.ClientID, 1)
	cl, err := udphost.NewClient(cfg, udphost.ClientOptions{OnLeaseLost: func(s lockmgr.ClientID) {
		select {
		case lost <- s:
		default:
		}
	}})
	if err != nil {
		fmt.Fprintf(errw, "lockctl: %v\n", err)
		return 1
	}
	r.cl = cl
	defer cl.Close()
	defer r.closeSession()
	if holdArgs != nil {
		return r.hold(holdArgs[0], holdArgs[2:], lost, errw)
	}
	go func() {
		for s := range lost {
			msg := fmt.Sprintf("lease of session %v lost: its locks are gone (the next command opens a new session)", s)
			if r.json {
				r.emit(jsonResult{Session: s.String(), Error: msg})
			} else {
				r.print(msg + "\n")
			}
		}
	}()
	if fs.NArg() > 0 {
		r.oneShot = true
		r.command(strings.Join(fs.Args(), " "))
		if ctx.Err() != nil {
			return 130
		}
		return r.exitCode()
	}
	interactive := isTerminal(in)
	if interactive {
		octx, cancel := r.opCtx()
		s, err := cl.OpenSession(octx)
		cancel()
		if err != nil {
			fmt.Fprintf(out, "lockctl: could not open a session: %v\n", err)
			return 1
		}
		fmt.Fprintf(out, "lockctl: session %v of a %d-node group (%s); type help\n", s, len(cfg.Nodes), *configPath)
	}
	lines := make(chan string)
	readErr := make(chan error, 1)
	go readLines(in, lines, readErr)
	for {
		if interactive {
			r.print("> ")
		}
		if ctx.Err() != nil {
			r.print("\n")
			return 130
		}
		select {
		case <-ctx.Done():
			r.print("\n")
			return 130
		case line, ok := <-lines:
			if !ok {
				if err := <-readErr; err != nil {
					fmt.Fprintf(errw, "lockctl: reading input: %v\n", err)
					return 1
				}
				return r.exitCode()
			}
			if ctx.Err() != nil {
				return 130 // interrupted: the line is not run
			}
			if !r.command(line) {
				return r.exitCode()
			}
		}
	}
}

// lineBytesMax bounds a command line; a longer one is refused (the REPL
// goes on), as no command needs more than a lock name.
const lineBytesMax = 4096

// tooLong stands for a line over lineBytesMax on the lines channel.
const tooLong = "\x00too long"

// readLines sends in's lines (without their ends) to lines, tooLong for
// each overlong one (its rest skipped), then the read error and closes.
func readLines(in io.Reader, lines chan<- string, readErr chan<- error) {
	br := bufio.NewReader(in)
	var err error
	for {
		var line []byte
		long := false
		for {
			var part []byte
			var more bool
			part, more, err = br.ReadLine()
			if len(line)+len(part) > lineBytesMax {
				long = true
			} else {
				line = append(line, part...)
			}
			if !more || err != nil {
				break
			}
		}
		if err != nil && (len(line) == 0 && !long) {
			break
		}
		if long {
			lines <- tooLong
		} else {
			lines <- string(line)
		}
		if err != nil {
			break
		}
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	readErr <- err
	close(lines)
}

// opCtx is the context of one command: -timeout, or none, and ended by a
// signal.
func (r *repl) opCtx() (context.Context, context.CancelFunc) {
	if r.timeout == 0 {
		return context.WithCancel(r.ctx)
	}
	return context.WithTimeout(r.ctx, r.timeout)
}

// closeSession ends the session, releasing its locks, whatever the reason
// lockctl ends.
func (r *repl) closeSession() {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := r.cl.CloseSession(ctx); err != nil {
		fmt.Fprintf(r.errw, "lockctl: could not close the session (the group expires it after its lease): %v\n", err)
	}
}

func (r *repl) print(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprint(r.out, s)
}

// hold takes name, runs argv with the token in PAXLOCK_TOKEN until it
// exits, and releases the lock; it returns argv's exit status.
func (r *repl) hold(name string, argv []string, lost <-chan lockmgr.ClientID, errw io.Writer) int {
	ctx, cancel := r.opCtx()
	comp, err := r.cl.Do(ctx, lockmgr.OpLock, name)
	cancel()
	if err != nil || comp.Result.Status != lockmgr.Granted {
		if err == nil {
			err = fmt.Errorf("answered %v", comp.Result)
		}
		fmt.Fprintf(errw, "lockctl: hold %s: %v\n", name, err)
		r.withdraw(name, err)
		return 1
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, r.out, errw
	cmd.Env = append(os.Environ(), fmt.Sprintf("PAXLOCK_TOKEN=%d", comp.Result.Token))
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(errw, "lockctl: hold %s: %v\n", name, err)
		r.unlock(name)
		return 1
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var waitErr error
	select {
	case waitErr = <-exited:
		r.unlock(name)
	case <-lost:
		// The lock is gone with the session: nothing to unlock (an
		// unlock now would only open a new session to hear NotHeld).
		fmt.Fprintf(errw, "lockctl: hold %s: lease lost; stopping %s\n", name, argv[0])
		waitErr = stopCommand(cmd, exited)
	case <-r.ctx.Done():
		waitErr = stopCommand(cmd, exited)
		r.unlock(name)
	}
	var ee *exec.ExitError
	switch {
	case errors.As(waitErr, &ee):
		return max(ee.ExitCode(), 1)
	case waitErr != nil:
		fmt.Fprintf(errw, "lockctl: hold %s: %v\n", name, waitErr)
		return 1
	}
	return 0
}

// holdGrace is how long a held command has after SIGTERM before SIGKILL.
const holdGrace = 5 * time.Second

// stopCommand stops a held command: SIGTERM, then SIGKILL if it is still
// running after holdGrace.
func stopCommand(cmd *exec.Cmd, exited <-chan error) error {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		return err
	case <-time.After(holdGrace):
		_ = cmd.Process.Kill()
		return <-exited
	}
}

func (r *repl) unlock(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_, _ = r.cl.Do(ctx, lockmgr.OpUnlock, name) // the close at the end releases it anyway
}

// withdraw takes back a Lock that got no final answer: an Unlock ends the
// wait if it is still queued, and releases the lock if it was granted
// after all; either way the lock is not left to a client that gave up.
func (r *repl) withdraw(name string, err error) {
	var na *udphost.NoAnswerError
	if errors.As(err, &na) && na.Op == lockmgr.OpLock && na.Session != 0 {
		r.unlock(name)
	}
}

func (r *repl) exitCode() int {
	if r.failed {
		return 1
	}
	return 0
}

// command runs one line and reports whether to go on.
func (r *repl) command(line string) bool {
	if line == tooLong {
		r.fail("line too long (over %d bytes): refused", lineBytesMax)
		return true
	}
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
	case cmd == "help" && r.json:
		r.emit(jsonResult{Help: help})
	case cmd == "help":
		r.print(help + "\n")
	case cmd == "exit" || cmd == "quit":
		return false
	default:
		r.fail("unknown command %q: try help", f[0])
	}
	return true
}

func (r *repl) fail(format string, args ...any) {
	r.failed = true
	if r.json {
		r.emit(jsonResult{Error: fmt.Sprintf(format, args...)})
		return
	}
	r.print(fmt.Sprintf(format+"\n", args...))
}

// lockCommand runs lock, trylock or unlock and prints its result and then
// the lock table.
func (r *repl) lockCommand(op lockmgr.Op, name string) {
	ctx, cancel := r.opCtx()
	comp, err := r.cl.Do(ctx, op, name)
	cancel()
	var na *udphost.NoAnswerError
	switch {
	case errors.As(err, &na) && r.ctx.Err() != nil:
		r.failed = true
		r.withdraw(name, err)
		return // interrupted: the session closes next
	case errors.As(err, &na) && r.json:
		r.failed = true
		if na.Op == lockmgr.OpLock && na.Session != 0 {
			r.withdraw(name, err)
		}
		r.emit(jsonResult{Op: op.String(), Lock: name, Error: na.Error(), Unknown: true})
		return
	case errors.As(err, &na):
		r.fail("%v %s: %v", op, name, na)
		if na.Op == lockmgr.OpLock && na.Session != 0 {
			r.withdraw(name, err)
			r.print(fmt.Sprintf("%v %s: wait withdrawn\n", op, name))
		}
		if !na.Heard {
			return // nobody answers; asking for the table would only wait again
		}
	case err != nil:
		r.fail("%v %s: %v", op, name, err)
		return
	default:
		r.result(op, name, comp)
	}
	if !r.json {
		r.table()
	}
}

func (r *repl) result(op lockmgr.Op, name string, comp lockmgr.Completion) {
	res := comp.Result
	if r.json {
		j := jsonResult{Op: op.String(), Lock: name, Status: res.Status.String(), Session: comp.Session.String()}
		switch res.Status {
		case lockmgr.Granted:
			j.Token = res.Token
		case lockmgr.Busy:
			j.Holder = res.Holder.String()
		}
		switch res.Status {
		case lockmgr.Granted, lockmgr.Released:
		case lockmgr.Busy, lockmgr.NotHeld:
			r.failed = r.failed || r.oneShot
		default:
			r.failed = true
			j.Unknown = res.Status == lockmgr.Stale || res.Status == lockmgr.SessionExpired
		}
		r.emit(j)
		return
	}
	switch res.Status {
	case lockmgr.Granted:
		r.print(fmt.Sprintf("%v %s: granted (token %d)\n", op, name, res.Token))
	case lockmgr.Busy:
		r.print(fmt.Sprintf("%v %s: busy (held by %v)\n", op, name, res.Holder))
		r.failed = r.failed || r.oneShot
	case lockmgr.Released:
		r.print(fmt.Sprintf("%v %s: released\n", op, name))
	case lockmgr.NotHeld:
		r.print(fmt.Sprintf("%v %s: not held by this session (%v)\n", op, name, r.cl.ID()))
		r.failed = r.failed || r.oneShot
	case lockmgr.Invalid:
		r.fail("%v %s: invalid lock name (want 1 to %d bytes)", op, name, lockmgr.NameBytesMax)
	case lockmgr.Stale:
		r.fail("%v %s: outcome unknown (an older copy of the request)", op, name)
	case lockmgr.SessionExpired:
		r.fail("%v %s: the session had expired: its locks are gone; the next command opens a new session", op, name)
	default:
		r.fail("%v %s: unexpected answer %v", op, name, res)
	}
}

// table prints the lock table as the seed did. It reports whether any
// replica answered at all.
func (r *repl) table() bool {
	ctx, cancel := r.opCtx()
	comp, err := r.cl.Do(ctx, lockmgr.OpStatus, "")
	cancel()
	if err != nil {
		r.fail("Current Locks: unknown (status: %v)", err)
		var na *udphost.NoAnswerError
		return errors.As(err, &na) && na.Heard
	}
	r.print(lockmgr.FormatStatus(comp.Locks) + "\n")
	return true
}

// status prints the lock table, then each replica's view and counters.
func (r *repl) status() {
	if r.json {
		r.jsonStatus()
		return
	}
	reachable := r.table()
	for _, id := range r.cfg.Peers() {
		addr, _ := r.cfg.NodeAddr(id)
		d := nodeStatusTimeoutMax
		if r.timeout > 0 {
			d = min(r.timeout, d)
		}
		if !reachable {
			d = min(d, 100*time.Millisecond) // nothing answered at all: do not wait long for each
		}
		ctx, cancel := context.WithTimeout(r.ctx, d)
		rep, err := r.cl.NodeStatus(ctx, id)
		cancel()
		if err != nil {
			r.print(fmt.Sprintf("node %d %v: no answer within %v\n", id, addr, d))
			continue
		}
		var b strings.Builder
		held := len(rep.Locks) + int(rep.Truncated)
		fmt.Fprintf(&b, "node %d %v: leader %d, %d lock%s held%s;", id, addr, rep.Leader, held, map[bool]string{true: "s"}[held != 1],
			r.staleness(id, rep))
		for i, v := range rep.Counters {
			fmt.Fprintf(&b, " %v=%d", lockmgr.Counter(i), v)
		}
		r.print(b.String() + "\n")
	}
}

// staleness says how fresh a node's table is: a node that has not heard
// a leader within its election timeout may be cut off, its table behind.
func (r *repl) staleness(id paxos.ID, rep lockmgr.Reply) string {
	switch since := time.Duration(rep.SinceLeader) * r.cfg.Tick(); {
	case rep.Leader == id:
		return " (it leads)"
	case rep.SinceLeader < 0 || rep.Leader == 0:
		return " (its table may be stale: it knows no leader)"
	case since > r.cfg.ElectionTimeout():
		return fmt.Sprintf(" (its table may be stale: last heard its leader %v ago)", since)
	default:
		return fmt.Sprintf(" (heard its leader %v ago)", since)
	}
}

// jsonStatus is status as one -json object.
func (r *repl) jsonStatus() {
	j := jsonResult{Op: "status"}
	ctx, cancel := r.opCtx()
	comp, err := r.cl.Do(ctx, lockmgr.OpStatus, "")
	cancel()
	if err != nil {
		r.failed = true
		j.Error = err.Error()
	} else {
		j.Locks = jsonLocks(comp.Locks)
	}
	for _, id := range r.cfg.Peers() {
		addr, _ := r.cfg.NodeAddr(id)
		n := jsonNode{ID: int(id), Addr: addr.String()}
		d := nodeStatusTimeoutMax
		if r.timeout > 0 {
			d = min(r.timeout, d)
		}
		ctx, cancel := context.WithTimeout(r.ctx, d)
		rep, err := r.cl.NodeStatus(ctx, id)
		cancel()
		if err != nil {
			n.Error = err.Error()
		} else {
			n.Leader, n.Held = int(rep.Leader), len(rep.Locks)+int(rep.Truncated)
			n.Freshness = strings.TrimSpace(strings.Trim(r.staleness(id, rep), " ()"))
			n.Counters = map[string]uint64{}
			for i, v := range rep.Counters {
				n.Counters[lockmgr.Counter(i).String()] = v
			}
		}
		j.Nodes = append(j.Nodes, n)
	}
	r.emit(j)
}

func isTerminal(in io.Reader) bool {
	f, ok := in.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
