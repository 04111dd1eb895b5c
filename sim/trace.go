package sim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind says what an Event records.
type Kind uint8

// Event kinds. The numbering feeds the trace hash: never renumber, only
// append.
const (
	KindDeliver   Kind = 1  // From -> To, Len bytes, Flags
	KindDrop      Kind = 2  // From -> To, Len bytes, lost for Reason
	KindTick      Kind = 3  // Proc ticked
	KindAction    Kind = 4  // a harness action scheduled with At; Label
	KindStart     Kind = 5  // Proc booted (its first Start)
	KindRestart   Kind = 6  // Proc restarted (a later Start)
	KindCrash     Kind = 7  // Proc crashed
	KindPause     Kind = 8  // Proc paused
	KindResume    Kind = 9  // Proc resumed
	KindDrift     Kind = 10 // Proc's tick factor set to Factor
	KindPartition Kind = 11 // links between Groups cut
	KindCut       Kind = 12 // link From -> To cut
	KindIsolate   Kind = 13 // every link to and from Proc cut
	KindHeal      Kind = 14 // every cut and clog removed
	KindClog      Kind = 15 // link From -> To held until UntilNs
	KindNet       Kind = 16 // network knobs set to *Net
	KindDropNext  Kind = 17 // the next Len packets sent From -> To will be dropped
	KindDiskLoss  Kind = 18 // Proc's disk was lost: every file gone
)

var kindNames = [...]string{
	KindDeliver: "deliver", KindDrop: "drop", KindTick: "tick",
	KindAction: "action", KindStart: "start", KindRestart: "restart",
	KindCrash: "crash", KindPause: "pause", KindResume: "resume",
	KindDrift: "drift", KindPartition: "partition", KindCut: "cut",
	KindIsolate: "isolate", KindHeal: "heal", KindClog: "clog", KindNet: "net",
	KindDropNext: "dropnext", KindDiskLoss: "diskloss",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Flags mark how a delivered packet differs from what was sent.
type Flags uint8

const (
	FlagDup     Flags = 1 << iota // the network's extra copy of a packet
	FlagCorrupt                   // bits were flipped in this copy
	FlagEarly                     // the harness delivered it ahead of its time (DeliverInFlight)
)

// DropReason says why the network lost a packet.
type DropReason uint8

// Drop reasons; the numbering feeds the trace hash.
const (
	DropRandom   DropReason = 1 // NetConfig.DropProb
	DropCut      DropReason = 2 // the link was cut at send or at arrival
	DropOverflow DropReason = 3 // the link already had InflightPerLinkMax packets
	DropDown     DropReason = 4 // the receiver was down at arrival (or crashed holding it)
	DropUnknown  DropReason = 5 // no process has the destination address
	DropHarness  DropReason = 6 // the harness dropped it (DropInFlight, DropNext)
)

var dropNames = [...]string{
	DropRandom: "random", DropCut: "cut", DropOverflow: "overflow",
	DropDown: "down", DropUnknown: "unknown", DropHarness: "harness",
}

func (r DropReason) String() string {
	if int(r) < len(dropNames) && dropNames[r] != "" {
		return dropNames[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// Event is one entry of the trace. Which fields matter depends on Kind.
// An observer receives a pointer that is valid only during the call; copy
// the Event to keep it.
type Event struct {
	Seq    uint64 // 1-based position in the trace
	TimeNs int64
	Kind   Kind
	From   Addr // sender, for packet and link events
	To     Addr // receiver, for packet and link events
	Proc   Addr // the process, for process events
	Len    int  // payload length
	Flags  Flags
	Reason DropReason
	SentNs int64 // when a delivered packet was sent
	// Data is the delivered payload, or the payload of a packet the
	// harness dropped (DropHarness). A delivered payload aliases what the
	// receiver got, so it shows what the receiver may since have changed.
	Data    []byte
	UntilNs int64      // clog end
	Factor  float64    // drift factor
	Groups  [][]Addr   // partition groups, each sorted
	Label   string     // action label
	Net     *NetConfig // new knobs, for KindNet
}

// String is the one-line describe form used by traces and golden tests,
// e.g. "t=12.345ms deliver 1->3 len=57".
func (ev *Event) String() string {
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(fmtMs(ev.TimeNs))
	b.WriteByte(' ')
	b.WriteString(ev.Kind.String())
	switch ev.Kind {
	case KindDeliver:
		fmt.Fprintf(&b, " %d->%d len=%d", ev.From, ev.To, ev.Len)
		if ev.Flags&FlagDup != 0 {
			b.WriteString(" dup")
		}
		if ev.Flags&FlagCorrupt != 0 {
			b.WriteString(" corrupt")
		}
		if ev.Flags&FlagEarly != 0 {
			b.WriteString(" early")
		}
	case KindDrop:
		fmt.Fprintf(&b, " %d->%d len=%d %s", ev.From, ev.To, ev.Len, ev.Reason)
	case KindCut:
		fmt.Fprintf(&b, " %d->%d", ev.From, ev.To)
	case KindDropNext:
		fmt.Fprintf(&b, " %d->%d n=%d", ev.From, ev.To, ev.Len)
	case KindClog:
		fmt.Fprintf(&b, " %d->%d until=%s", ev.From, ev.To, fmtMs(ev.UntilNs))
	case KindDrift:
		fmt.Fprintf(&b, " %d x%.4f", ev.Proc, ev.Factor)
	case KindPartition:
		b.WriteByte(' ')
		b.WriteString(fmtGroups(ev.Groups))
	case KindAction:
		if ev.Label != "" {
			b.WriteByte(' ')
			b.WriteString(ev.Label)
		}
	case KindNet:
		if ev.Net != nil {
			b.WriteByte(' ')
			b.WriteString(fmtNet(ev.Net))
		}
	case KindHeal:
	default:
		fmt.Fprintf(&b, " %d", ev.Proc)
	}
	return b.String()
}

// fmtMs prints nanoseconds as milliseconds with microsecond precision.
func fmtMs(ns int64) string {
	sign := ""
	if ns < 0 {
		sign, ns = "-", -ns
	}
	us := ns / 1000
	return fmt.Sprintf("%s%d.%03dms", sign, us/1000, us%1000)
}

func fmtGroups(gs [][]Addr) string {
	var b strings.Builder
	for i, g := range gs {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteByte('{')
		for j, a := range g {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatUint(uint64(a), 10))
		}
		b.WriteByte('}')
	}
	return b.String()
}

func fmtNet(n *NetConfig) string {
	return fmt.Sprintf("drop=%g dup=%g corrupt=%g lat=[%s,%s] tail=%g/%s reorder=%g/%s inflight=%d",
		n.DropProb, n.DupProb, n.CorruptProb, fmtMs(n.LatencyMinNs), fmtMs(n.LatencyMaxNs),
		n.TailProb, fmtMs(n.TailMaxNs), n.ReorderProb, fmtMs(n.ReorderJitterNs), n.InflightPerLinkMax)
}

// Trace hashing folds 64-bit words, not formatted text, into the running
// hash: an FNV-style xor-multiply per word with an extra xor-shift so that
// high bits feed back into low ones.
const (
	hashOffset = 0xcbf29ce484222325 // FNV-1a 64-bit offset basis
	hashMul    = 0x9e3779b97f4a7c15 // odd, with well-spread bits
)

func mixWord(h, w uint64) uint64 {
	h = (h ^ w) * hashMul
	return h ^ (h >> 32)
}

func mixBytes(h uint64, p []byte) uint64 {
	for len(p) >= 8 {
		w := uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
			uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56
		h = mixWord(h, w)
		p = p[8:]
	}
	var w uint64
	for i, c := range p {
		w |= uint64(c) << (8 * i)
	}
	return mixWord(h, w^uint64(len(p))<<59)
}

// hashEvent folds ev's fields into h. The common fields go in three words;
// the rare ones only for the kinds that carry them.
func hashEvent(h uint64, ev *Event, payload bool) uint64 {
	h = mixWord(h, uint64(ev.TimeNs))
	h = mixWord(h, uint64(ev.Kind)|uint64(ev.Flags)<<8|uint64(ev.Reason)<<16|uint64(ev.From)<<32)
	h = mixWord(h, uint64(ev.To)|uint64(ev.Proc)<<32)
	h = mixWord(h, uint64(ev.Len))
	switch ev.Kind {
	case KindDeliver:
		h = mixWord(h, uint64(ev.SentNs))
		if payload {
			h = mixBytes(h, ev.Data)
		}
	case KindClog:
		h = mixWord(h, uint64(ev.UntilNs))
	case KindDrift:
		h = mixWord(h, math.Float64bits(ev.Factor))
	case KindAction:
		h = mixBytes(h, []byte(ev.Label))
	case KindPartition:
		for _, g := range ev.Groups {
			h = mixWord(h, uint64(len(g)))
			for _, a := range g {
				h = mixWord(h, uint64(a))
			}
		}
	case KindNet:
		h = hashNet(h, ev.Net)
	}
	return h
}

func hashNet(h uint64, n *NetConfig) uint64 {
	if n == nil {
		return h
	}
	for _, p := range []float64{n.DropProb, n.DupProb, n.CorruptProb, n.TailProb, n.ReorderProb} {
		h = mixWord(h, math.Float64bits(p))
	}
	for _, d := range []int64{n.LatencyMinNs, n.LatencyMaxNs, n.TailMaxNs, n.ReorderJitterNs, int64(n.InflightPerLinkMax)} {
		h = mixWord(h, uint64(d))
	}
	return h
}
