package explore

import (
	"fmt"
	"iter"
)

// table is the visited table: for each state's fingerprint, how it was
// first reached (its parent). A search looks a successor up in it once
// for every state it generates, three or four times as often as it adds
// one, and at tens of millions of entries every lookup is a miss in every
// cache; so the table is open-addressed with each entry in one 24-byte
// cell (fingerprint, parent's fingerprint, step and depth packed in one
// word), and a lookup that finds its cell, or the free cell where the
// fingerprint goes, touches one cache line or two. The fingerprint is
// already a well-mixed hash: its low bits are the home cell, with no
// hashing again. The zero value is an empty table.
//
// Its iteration order (all) is the cells' order, a function of the
// fingerprints and the order they were added in, so the same search
// iterates the same way every run.
type table struct {
	cells []cell // len a power of two, or 0
	n     int    // entries in cells
	// A fingerprint of 0 marks a free cell, so the state whose
	// fingerprint is 0 (if any) is kept here.
	zero    cell
	hasZero bool
}

type cell struct {
	fp, from uint64
	sd       uint64 // the packed step, and the depth above stepBits
}

// stepBits is how many low bits of cell.sd the packed step takes.
const stepBits = 51

// tableMinCells is a new table's size.
const tableMinCells = 1 << 10

func (c *cell) parent() parent {
	return parent{fp: c.from, step: packedStep(c.sd & (1<<stepBits - 1)), depth: c.depth()}
}

func (c *cell) depth() int32 { return int32(c.sd >> stepBits) }

func (c *cell) set(p parent) {
	if p.depth < 0 || uint64(p.depth) >= 1<<(64-stepBits) || uint64(p.step) >= 1<<stepBits {
		panic(fmt.Sprintf("explore: internal: parent %+v does not pack", p))
	}
	c.from, c.sd = p.fp, uint64(p.step)|uint64(p.depth)<<stepBits
}

// len is the number of fingerprints in t.
func (t *table) len() int {
	if t.hasZero {
		return t.n + 1
	}
	return t.n
}

// get returns fp's parent, if fp is in t.
func (t *table) get(fp uint64) (parent, bool) {
	if fp == 0 {
		return t.zero.parent(), t.hasZero
	}
	if len(t.cells) == 0 {
		return parent{}, false
	}
	mask := uint64(len(t.cells) - 1)
	for i := fp & mask; ; i = (i + 1) & mask {
		switch c := &t.cells[i]; c.fp {
		case fp:
			return c.parent(), true
		case 0:
			return parent{}, false
		}
	}
}

// ref returns fp's cell and whether fp was in t; if it was not, the cell
// is claimed for it, and the caller sets its parent before it calls ref
// again (which may move the cells).
func (t *table) ref(fp uint64) (c *cell, found bool) {
	if fp == 0 {
		found, t.hasZero = t.hasZero, true
		return &t.zero, found
	}
	if 4*(t.n+1) > 3*len(t.cells) {
		t.grow()
	}
	mask := uint64(len(t.cells) - 1)
	for i := fp & mask; ; i = (i + 1) & mask {
		switch c := &t.cells[i]; c.fp {
		case fp:
			return c, true
		case 0:
			c.fp = fp
			t.n++
			return c, false
		}
	}
}

// put records p as fp's parent, replacing any.
func (t *table) put(fp uint64, p parent) {
	c, _ := t.ref(fp)
	c.set(p)
}

// grow doubles the cells (at three quarters full, so a probe is short)
// and puts every entry back.
func (t *table) grow() {
	old := t.cells
	t.cells = make([]cell, max(tableMinCells, 2*len(old)))
	mask := uint64(len(t.cells) - 1)
	for _, c := range old {
		if c.fp == 0 {
			continue
		}
		i := c.fp & mask
		for t.cells[i].fp != 0 {
			i = (i + 1) & mask
		}
		t.cells[i] = c
	}
}

// all yields every fingerprint in t and its parent.
func (t *table) all() iter.Seq2[uint64, parent] {
	return func(yield func(uint64, parent) bool) {
		if t.hasZero && !yield(0, t.zero.parent()) {
			return
		}
		for i := range t.cells {
			if c := &t.cells[i]; c.fp != 0 && !yield(c.fp, c.parent()) {
				return
			}
		}
	}
}
