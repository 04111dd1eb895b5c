package udphost

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"paxlock/scenarios/check"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"paxlock/lockmgr"
	"paxlock/paxos"
)

// The crash test on real processes: paxosd binaries on loopback, clients in
// this process, SIGKILLs and restarts; then the recorded history is checked
// with the lock service's porcupine model, and every lock acknowledged as
// granted and never released must still be held, with its token, on every
// replica. The short version runs by default; the long one is
//
//	go test ./udphost -run TestCrash -long -duration 5m -nodes 5 -kills 20
var (
	crashLong     = flag.Bool("long", false, "TestCrash: the long version (see -duration, -nodes, -kills, -clients)")
	crashDuration = flag.Duration("duration", 5*time.Minute, "TestCrash -long: how long the clients run")
	crashNodes    = flag.Int("nodes", 5, "TestCrash -long: replicas (odd, 3..9)")
	crashKills    = flag.Int("kills", 20, "TestCrash -long: kill rounds, spread over -duration")
	crashClients  = flag.Int("clients", 8, "TestCrash -long: clients")
	crashSeed     = flag.Uint64("crash-seed", 0, "TestCrash: seed for the choice of victims and names (0: random, printed)")
)

// Bounds of the crash test.
const (
	crashOpTimeout = 2 * time.Second // a client gives up on an operation after this
	crashNames     = 3               // shared lock names: contention and queues
	// crashHoldsMax bounds the locks kept to the end (spread over the run),
	// so that one replica's status reply still lists them all.
	crashHoldsMax     = 600
	crashCheckTimeout = 60 * time.Second
)

// crashPlan is the schedule: at each step, after its delay, kill the
// victims, and restart them after down.
type crashStep struct {
	after   time.Duration
	victims string // "follower", "leader", "all", or "random"
	down    time.Duration
}

func TestCrash(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("TestCrash builds cmd/paxosd and needs the go command on PATH")
	}
	seed := *crashSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("crash test seed %d (replay with -crash-seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 8))

	// The whole group stays down longer than a client waits, so that some
	// operations end with an unknown outcome and the checker must allow
	// for both possibilities.
	nodes, clients, run := 3, 4, 10*time.Second
	plan := []crashStep{
		{after: 1500 * time.Millisecond, victims: "follower", down: time.Second},
		{after: 1500 * time.Millisecond, victims: "leader", down: time.Second},
		{after: time.Second, victims: "all", down: crashOpTimeout + 200*time.Millisecond},
	}
	if *crashLong {
		nodes, clients, run = *crashNodes, *crashClients, *crashDuration
		if nodes < 3 || nodes > 9 || nodes%2 == 0 || *crashKills < 1 {
			t.Fatalf("-nodes %d -kills %d: want an odd 3..9 nodes and at least one kill", nodes, *crashKills)
		}
		plan = longPlan(rng, run, *crashKills)
	}

	bin := filepath.Join(t.TempDir(), "paxosd")
	build := exec.Command(goBin, "build", "-o", bin, "paxlock/cmd/paxosd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build paxlock/cmd/paxosd: %v\n%s", err, out)
	}
	pc := startProcCluster(t, bin, nodes)
	waitServing(t, pc.cfg)

	h := &crashHistory{start: time.Now()}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		c := newTestClient(t, pc.cfg)
		crng := rand.New(rand.NewPCG(seed, uint64(i)))
		wg.Add(1)
		holdEvery := run / time.Duration(crashHoldsMax/clients)
		go func() {
			defer wg.Done()
			crashClient(h, c, i, crng, holdEvery, stop)
		}()
	}

	end := time.Now().Add(run)
	for _, step := range plan {
		time.Sleep(step.after)
		victims := pc.pick(t, step.victims, rng)
		t.Logf("%6.2fs: SIGKILL %s %v", time.Since(h.start).Seconds(), step.victims, victims)
		for _, id := range victims {
			pc.down(t, id)
		}
		time.Sleep(step.down)
		for _, id := range victims {
			pc.start(t, id)
		}
		t.Logf("%6.2fs: restarted %v", time.Since(h.start).Seconds(), victims)
	}
	time.Sleep(time.Until(end))
	close(stop)
	wg.Wait()
	ops, holds := h.close()
	t.Logf("%d operations (%d unknown outcome), %d locks held to the end, %d restarts",
		len(ops), h.unknown, len(holds), pc.restarts)

	checkHolds(t, pc.cfg, holds)
	checkHistory(t, ops, max(crashCheckTimeout, 2*run)) // a long run's history takes longer
}

// longPlan spreads kills over the run: mostly one random victim or the
// leader, now and then a minority at once or the whole group.
func longPlan(rng *rand.Rand, run time.Duration, kills int) []crashStep {
	gap := run / time.Duration(kills+1)
	var plan []crashStep
	for k := range kills {
		victims := []string{"random", "leader", "follower", "random", "minority"}[rng.IntN(5)]
		if k%7 == 6 {
			victims = "all"
		}
		down := time.Duration(100+rng.IntN(1500)) * time.Millisecond
		plan = append(plan, crashStep{after: max(0, gap-down), victims: victims, down: down})
	}
	return plan
}

// crashClient runs lock/unlock (or trylock/unlock) pairs on the shared
// names until stop, and every holdEvery takes a lock of its own that it
// keeps to the end.
func crashClient(h *crashHistory, c *Client, idx int, rng *rand.Rand, holdEvery time.Duration, stop <-chan struct{}) {
	lastHold := time.Now()
	for k := 0; ; k++ {
		select {
		case <-stop:
			return
		default:
		}
		if time.Since(lastHold) >= holdEvery {
			lastHold = time.Now()
			name := fmt.Sprintf("hold-%d-%d", idx, k)
			if comp, ok := h.do(c, idx, lockmgr.OpLock, name); ok && comp.Result.Status == lockmgr.Granted {
				h.hold(name, comp.Session, comp.Result.Token)
			}
			continue
		}
		name := fmt.Sprint("n", rng.IntN(crashNames))
		op := lockmgr.OpLock
		if rng.IntN(3) == 0 {
			op = lockmgr.OpTryLock
		}
		h.do(c, idx, op, name)
		h.do(c, idx, lockmgr.OpUnlock, name)
	}
}

// crashHistory records what the clients saw, in wall-clock time.
type crashHistory struct {
	mu      sync.Mutex
	start   time.Time
	ops     []porcupine.Operation
	open    map[int][]int // client -> unknown-outcome ops not yet closed
	holds   map[string]heldLock
	unknown int
}

type heldLock struct {
	holder lockmgr.ClientID
	token  uint64
}

func (h *crashHistory) now() int64 { return int64(time.Since(h.start)) }

// do runs one operation and records it. An operation without an answer
// (or answered Stale) has an unknown outcome, and it may still take effect
// until the client's next request is applied: it is closed when that
// request returns with a known answer, else at the end of the history.
func (h *crashHistory) do(c *Client, idx int, op lockmgr.Op, name string) (lockmgr.Completion, bool) {
	in := check.Input{Op: op, Name: name}
	call := h.now()
	ctx, cancel := context.WithTimeout(context.Background(), crashOpTimeout)
	comp, err := c.Do(ctx, op, name)
	cancel()
	ret := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.open == nil {
		h.open = map[int][]int{}
	}
	i := len(h.ops)
	h.ops = append(h.ops, porcupine.Operation{ClientId: idx, Input: in, Call: call, Return: -1})
	var na *NoAnswerError
	switch {
	case errors.As(err, &na):
		in.Client = na.Session
	case err == nil:
		in.Client = comp.Session
	}
	h.ops[i].Input = in
	switch {
	case errors.As(err, &na) && na.Session == 0:
		// Never went out: no session had opened for it.
		h.ops = h.ops[:i]
		return comp, false
	case errors.As(err, &na) || (err == nil && comp.Result.Status == lockmgr.Stale):
		h.ops[i].Output = check.Output{Unknown: true}
		h.open[idx] = append(h.open[idx], i)
		h.unknown++
		return comp, false
	case err != nil:
		panic(err) // a bug in the test: Do fails only on a bad name or a socket error
	}
	h.ops[i].Output = check.Output{Status: comp.Result.Status, Token: comp.Result.Token, Holder: comp.Result.Holder}
	h.ops[i].Return = ret
	for _, j := range h.open[idx] {
		h.ops[j].Return = ret
	}
	h.open[idx] = h.open[idx][:0]
	return comp, true
}

func (h *crashHistory) hold(name string, holder lockmgr.ClientID, token uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.holds == nil {
		h.holds = map[string]heldLock{}
	}
	h.holds[name] = heldLock{holder, token}
}

// close ends the history: ops still open return after everything else.
func (h *crashHistory) close() ([]porcupine.Operation, map[string]heldLock) {
	h.mu.Lock()
	defer h.mu.Unlock()
	end := h.now() + 1
	for i := range h.ops {
		if h.ops[i].Return < 0 {
			h.ops[i].Return = end
		}
	}
	return h.ops, h.holds
}

// checkHolds: every lock acknowledged as granted and never released is
// held by its client with its token, on every replica, after the run.
func checkHolds(t *testing.T, cfg *Config, holds map[string]heldLock) {
	t.Helper()
	c := newTestClient(t, cfg)
	for _, id := range cfg.Peers() {
		var missing []string
		deadline := time.Now().Add(10 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			rep, err := c.NodeStatus(ctx, id)
			cancel()
			missing = missing[:0]
			table := map[string]lockmgr.LockStatus{}
			for _, l := range rep.Locks {
				table[l.Name] = l
			}
			for name, want := range holds {
				if got, ok := table[name]; !ok || got.Holder != want.holder || got.Token != want.token {
					missing = append(missing, fmt.Sprintf("%s (%v #%d, replica has %v #%d)", name, want.holder, want.token, got.Holder, got.Token))
				}
			}
			if err == nil && rep.Truncated == 0 && len(missing) == 0 {
				break
			}
			if time.Now().After(deadline) {
				slices.Sort(missing)
				t.Fatalf("replica %d lost acknowledged locks (status err %v): %d missing, e.g. %s",
					id, err, len(missing), strings.Join(missing[:min(len(missing), 5)], ", "))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func checkHistory(t *testing.T, ops []porcupine.Operation, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(check.Model(), ops, timeout)
	t.Logf("linearizability check of %d operations: %v in %v", len(ops), res, time.Since(start).Round(time.Millisecond))
	if res == porcupine.Ok {
		return
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("paxlock-crash-%d.html", time.Now().UnixNano()))
	if err := porcupine.VisualizePath(check.Model(), info, path); err == nil {
		t.Logf("history written to %s", path)
	}
	t.Fatalf("the history is not linearizable (porcupine: %v)", res)
}

// waitServing waits until the group grants a lock.
func waitServing(t *testing.T, cfg *Config) {
	t.Helper()
	c := newTestClient(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := c.Do(ctx, lockmgr.OpTryLock, "ready"); err != nil {
		t.Fatalf("group of paxosd processes not serving: %v", err)
	}
	if _, err := c.Do(ctx, lockmgr.OpUnlock, "ready"); err != nil {
		t.Fatalf("group of paxosd processes not serving: %v", err)
	}
}

// procCluster is a group of paxosd processes.
type procCluster struct {
	bin      string
	cfg      *Config
	cfgPath  string
	dir      string
	procs    map[paxos.ID]*exec.Cmd
	restarts int
}

func startProcCluster(t *testing.T, bin string, n int) *procCluster {
	t.Helper()
	dir := t.TempDir()
	pc := &procCluster{bin: bin, dir: dir, cfgPath: filepath.Join(dir, "config.json"), procs: map[paxos.ID]*exec.Cmd{}}
	data := testConfigJSON(t, n, nil)
	if err := os.WriteFile(pc.cfgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(pc.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	pc.cfg = cfg
	t.Cleanup(func() {
		for id := range pc.procs {
			pc.kill(t, id)
		}
		if t.Failed() {
			pc.dumpLogs(t)
		}
	})
	for _, id := range cfg.Peers() {
		pc.start(t, id)
	}
	pc.restarts = 0
	return pc
}

func (pc *procCluster) start(t *testing.T, id paxos.ID) {
	t.Helper()
	addr, _ := pc.cfg.NodeAddr(id)
	releasePort(addr) // just before paxosd binds it (see heldPorts)
	logf, err := os.OpenFile(filepath.Join(pc.dir, fmt.Sprintf("node%d.log", id)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(pc.bin, "-config", pc.cfgPath, "-id", fmt.Sprint(id), "-data", filepath.Join(pc.dir, fmt.Sprintf("node%d", id)))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = testProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pc.procs[id] = cmd
	pc.restarts++
}

func (pc *procCluster) kill(t *testing.T, id paxos.ID) {
	t.Helper()
	cmd := pc.procs[id]
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	delete(pc.procs, id)
	if cmd.ProcessState.Exited() {
		// It died before the kill: say why rather than hide it.
		t.Errorf("paxosd %d had exited by itself: %v", id, err)
	}
}

// down kills replica id and holds its port until it starts again (see
// heldPorts).
func (pc *procCluster) down(t *testing.T, id paxos.ID) {
	t.Helper()
	pc.kill(t, id)
	addr, _ := pc.cfg.NodeAddr(id)
	holdPort(t, addr)
}

// pick chooses victims: the leader, a follower, a random node, a random
// minority, or all.
func (pc *procCluster) pick(t *testing.T, kind string, rng *rand.Rand) []paxos.ID {
	t.Helper()
	peers := pc.cfg.Peers()
	switch kind {
	case "all":
		return peers
	case "random":
		return []paxos.ID{peers[rng.IntN(len(peers))]}
	case "minority":
		rng.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
		return peers[:1+rng.IntN((len(peers)-1)/2)]
	}
	leader := pc.leader(t)
	if kind == "leader" && leader != 0 {
		return []paxos.ID{leader}
	}
	var others []paxos.ID
	for _, id := range peers {
		if id != leader {
			others = append(others, id)
		}
	}
	return []paxos.ID{others[rng.IntN(len(others))]}
}

// leader is the leader most replicas name, 0 if none answers.
func (pc *procCluster) leader(t *testing.T) paxos.ID {
	t.Helper()
	c := newTestClient(t, pc.cfg)
	votes := map[paxos.ID]int{}
	var best paxos.ID
	for _, id := range pc.cfg.Peers() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		rep, err := c.NodeStatus(ctx, id)
		cancel()
		if err == nil && rep.Leader != 0 {
			votes[rep.Leader]++
			if votes[rep.Leader] > votes[best] {
				best = rep.Leader
			}
		}
	}
	return best
}

func (pc *procCluster) dumpLogs(t *testing.T) {
	for _, id := range pc.cfg.Peers() {
		b, _ := os.ReadFile(filepath.Join(pc.dir, fmt.Sprintf("node%d.log", id)))
		lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
		t.Logf("node %d log (last 30 lines):\n%s", id, bytes.Join(lines[max(0, len(lines)-30):], []byte("\n")))
	}
}
