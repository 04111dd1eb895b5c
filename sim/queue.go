package sim

// The event queue is a binary min-heap of small keys (time, sequence, slot)
// over a slab of event bodies. Keys are compared without touching the
// bodies, and bodies are recycled through a free list, so scheduling an
// event allocates nothing once the slab has grown to the working-set size.
// (A 4-ary heap measured no better on this workload; sifting down a heap of
// a few hundred keys is a handful of cache-resident comparisons either way.)

// itemKind says what a queued event does when it runs.
type itemKind uint8

const (
	itemDeliver itemKind = iota + 1
	itemTick
	itemBoot
	itemAction
)

// item is a queued event's body. For a delivery, from and to are process
// indices; for a tick or a boot, to is the process and gen the tick
// generation or incarnation it was scheduled under (stale if it changed).
type item struct {
	kind   itemKind
	flags  Flags
	from   int32
	to     int32
	gen    uint32
	sentNs int64
	data   []byte
	act    int32 // index into World.acts for itemAction
}

type key struct {
	at   int64
	seq  uint64
	slot int32
}

func (a key) less(b key) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

type queue struct {
	heap  []key
	items []item
	free  []int32
	seq   uint64
}

// push schedules it at time at and returns nothing: callers never need a
// handle, because cancellation is done with generations, not removal.
func (q *queue) push(at int64, it item) {
	var slot int32
	if n := len(q.free); n > 0 {
		slot = q.free[n-1]
		q.free = q.free[:n-1]
		q.items[slot] = it
	} else {
		slot = int32(len(q.items))
		q.items = append(q.items, it)
	}
	q.seq++
	q.heap = append(q.heap, key{at: at, seq: q.seq, slot: slot})
	q.up(len(q.heap) - 1)
}

// peek returns the earliest key; ok is false when the queue is empty.
func (q *queue) peek() (k key, ok bool) {
	if len(q.heap) == 0 {
		return key{}, false
	}
	return q.heap[0], true
}

// pop removes the earliest event and returns its time and body. The slot is
// freed at once (the body is returned by value), so the event's own actions
// may reuse it.
func (q *queue) pop() (int64, item) {
	k := q.heap[0]
	n := len(q.heap) - 1
	q.heap[0] = q.heap[n]
	q.heap = q.heap[:n]
	if n > 0 {
		q.down(0)
	}
	it := q.items[k.slot]
	q.items[k.slot] = item{} // drop the payload reference for the GC
	q.free = append(q.free, k.slot)
	return k.at, it
}

func (q *queue) len() int { return len(q.heap) }

func (q *queue) up(i int) {
	h := q.heap
	k := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if !k.less(h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = k
}

func (q *queue) down(i int) {
	h := q.heap
	n := len(h)
	k := h[i]
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h[r].less(h[c]) {
			c = r
		}
		if !h[c].less(k) {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = k
}
