package lockmgr

import (
	"encoding/binary"
	"fmt"
)

// reader decodes uvarints and bytes with a sticky error, so decoding code
// reads straight through and checks once. It is the one decoder of the
// package's encodings, and it accepts minimal uvarints only: binary.Uvarint
// also takes padded forms, which would give one value several encodings
// (and two replicas two readings of one log entry).
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated or malformed %s", what)
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	if n > 1 && r.b[n-1] == 0 {
		r.fail("non-minimal varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// varint reads one zig-zag varint, minimal like uvarint.
func (r *reader) varint() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail("byte")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.fail("bytes")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// count reads a list length, refusing one the remaining bytes cannot hold
// (each item needs at least itemMin bytes), so a hostile length cannot
// force a large allocation.
func (r *reader) count(itemMin int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/itemMin) {
		r.fail("count")
		return 0
	}
	return int(n)
}

// str reads a length-prefixed string of at most maxLen bytes.
func (r *reader) str(maxLen int) string {
	n := r.uvarint()
	if n > uint64(maxLen) {
		r.fail("string length")
		return ""
	}
	return string(r.bytes(n))
}

// finish reports the first failure, or trailing bytes.
func (r *reader) finish() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	return r.err
}
