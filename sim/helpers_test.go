package sim_test

import (
	"encoding/binary"
	"testing"

	"paxlock/sim"
)

// probe records what the incarnations at one address saw; it outlives them.
type probe struct {
	starts    int
	ticks     int
	tickTimes []int64
	recv      []recvd
	startDisk map[string][]byte // what the latest Start read from disk
}

type recvd struct {
	from   sim.Addr
	data   []byte
	atNs   int64
	sentNs int64 // from the payload, when the sender stamped it
	seq    uint64
}

// proc is the test process. Its behaviour is a set of optional hooks, so
// each test writes only what it needs; echo answers every packet.
type proc struct {
	p       *probe
	echo    bool
	onStart func(env sim.Env)
	onTick  func(env sim.Env)
	onRecv  func(env sim.Env)
	ticks   int // this instance's own count: a fresh instance starts at 0
}

func (q *proc) Start(env sim.Env) {
	q.p.starts++
	q.p.startDisk = map[string][]byte{}
	for _, n := range env.Disk().Files() {
		q.p.startDisk[n] = env.Disk().Read(n)
	}
	if q.onStart != nil {
		q.onStart(env)
	}
}

func (q *proc) Receive(env sim.Env, from sim.Addr, data []byte) {
	r := recvd{from: from, data: data, atNs: env.Now()}
	if len(data) >= 16 {
		r.sentNs = int64(binary.LittleEndian.Uint64(data))
		r.seq = binary.LittleEndian.Uint64(data[8:])
	}
	q.p.recv = append(q.p.recv, r)
	if q.onRecv != nil {
		q.onRecv(env)
	}
	if q.echo {
		env.Send(from, data)
	}
}

func (q *proc) Tick(env sim.Env) {
	q.ticks++
	q.p.ticks++
	q.p.tickTimes = append(q.p.tickTimes, env.Now())
	if q.onTick != nil {
		q.onTick(env)
	}
}

// stamped is a 16-byte payload carrying its send time and a sequence number.
func stamped(nowNs int64, seq uint64) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b, uint64(nowNs))
	binary.LittleEndian.PutUint64(b[8:], seq)
	return b
}

// add hosts a proc built by mk (called per incarnation) at a, returning its
// probe.
func add(t testing.TB, w *sim.World, a sim.Addr, tickNs int64, mk func(p *probe) *proc) *probe {
	t.Helper()
	p := &probe{}
	err := w.AddProcess(a, tickNs, func() sim.Process {
		q := mk(p)
		q.p = p
		return q
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// plain builds a proc with no hooks.
func plain(*probe) *proc { return &proc{} }

func newWorld(t testing.TB, seed uint64, cfg sim.Config) *sim.World {
	t.Helper()
	w, err := sim.NewWorld(seed, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

const (
	ms      = int64(1_000_000)
	tickBig = int64(1_000_000) * ms // effectively no ticks in a short test
)

// blaster sends count stamped packets to dst at every tick, stopping after
// total packets.
func blaster(dst sim.Addr, count, total int) func(*probe) *proc {
	var seq uint64
	return func(*probe) *proc {
		return &proc{onTick: func(env sim.Env) {
			for i := 0; i < count && seq < uint64(total); i++ {
				seq++
				env.Send(dst, stamped(env.Now(), seq))
			}
		}}
	}
}
