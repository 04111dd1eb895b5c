package sim

import (
	"fmt"
	"math"
)

// Limits on configuration values. They are far beyond anything a useful
// simulation needs and exist so that virtual time cannot overflow int64.
const (
	// delayLimitNs bounds every configured delay and tick period (one hour).
	delayLimitNs = int64(3600e9)
	// inflightPerLinkDefault is used when NetConfig.InflightPerLinkMax is 0,
	// so that the zero Config still bounds every queue.
	inflightPerLinkDefault = 1024
	// inflightPerLinkLimit bounds NetConfig.InflightPerLinkMax.
	inflightPerLinkLimit = 1 << 20
)

// NetConfig holds the network knobs. Every probability is per packet and
// drawn from the sender's network stream. The zero NetConfig is a perfect
// network with zero latency and the default in-flight bound.
type NetConfig struct {
	// DropProb is the probability that a sent packet is lost.
	DropProb float64
	// DupProb is the probability that a packet that was not dropped is
	// delivered twice; the copy draws its own latency and corruption.
	DupProb float64
	// CorruptProb is the probability that a delivered copy has 1..3 random
	// bits flipped. The sender's bytes are never touched: the receiver gets
	// a corrupted copy.
	CorruptProb float64
	// LatencyMinNs and LatencyMaxNs bound the body of the latency
	// distribution, drawn uniformly per packet. Links are not FIFO: when
	// LatencyMaxNs > LatencyMinNs, reordering falls out of the random delay.
	LatencyMinNs int64
	LatencyMaxNs int64
	// TailProb is the probability that a packet takes the long tail instead:
	// a latency drawn uniformly from [LatencyMaxNs, TailMaxNs].
	TailProb  float64
	TailMaxNs int64
	// ReorderProb is the probability that a packet is held back by an extra
	// delay drawn uniformly from [0, ReorderJitterNs], on top of its latency.
	// It lets a network with fixed latency reorder too.
	ReorderProb     float64
	ReorderJitterNs int64
	// InflightPerLinkMax bounds the packets in flight on one directed link
	// (including those held by a clog or a paused receiver); a packet sent
	// while the link is full is dropped and counted as overflow. 0 means the
	// default, 1024.
	InflightPerLinkMax int
}

// Config configures a World.
type Config struct {
	Net NetConfig
	// DiskTornProb is, for each file with unsynced bytes at a crash, the
	// probability that a random non-empty prefix of those bytes survives (a
	// torn write). Otherwise every unsynced byte is lost.
	DiskTornProb float64
	// DriftMax gives each process, when it is added, a tick-period factor
	// drawn uniformly from [1-DriftMax, 1+DriftMax]. 0 means no drift;
	// SetDrift overrides the draw.
	DriftMax float64
	// TraceKeep retains every event for Trace. Off, only the running hash
	// and the observers see events, which is what long sweeps want.
	TraceKeep bool
	// TraceHashPayload folds every delivered payload's bytes into the trace
	// hash, so that a difference in content (not only in length and timing)
	// changes the hash. It costs time proportional to the bytes delivered.
	TraceHashPayload bool
}

// DefaultConfig is a mildly hostile network: LAN-like latency with a tail,
// a little loss, duplication and corruption, and 2% clock drift.
func DefaultConfig() Config {
	return Config{
		Net: NetConfig{
			DropProb:           0.01,
			DupProb:            0.005,
			CorruptProb:        0.001,
			LatencyMinNs:       50_000,
			LatencyMaxNs:       500_000,
			TailProb:           0.01,
			TailMaxNs:          20_000_000,
			ReorderProb:        0.01,
			ReorderJitterNs:    1_000_000,
			InflightPerLinkMax: inflightPerLinkDefault,
		},
		DiskTornProb: 0.5,
		DriftMax:     0.02,
	}
}

func (c Config) validate() error {
	if err := c.Net.validate(); err != nil {
		return err
	}
	if err := checkProb("DiskTornProb", c.DiskTornProb); err != nil {
		return err
	}
	if !(c.DriftMax >= 0 && c.DriftMax < 1) {
		return fmt.Errorf("sim: DriftMax = %v: want a value in [0,1)", c.DriftMax)
	}
	return nil
}

func (n NetConfig) validate() error {
	probs := []struct {
		name string
		p    float64
	}{
		{"Net.DropProb", n.DropProb},
		{"Net.DupProb", n.DupProb},
		{"Net.CorruptProb", n.CorruptProb},
		{"Net.TailProb", n.TailProb},
		{"Net.ReorderProb", n.ReorderProb},
	}
	for _, p := range probs {
		if err := checkProb(p.name, p.p); err != nil {
			return err
		}
	}
	delays := []struct {
		name string
		ns   int64
	}{
		{"Net.LatencyMinNs", n.LatencyMinNs},
		{"Net.LatencyMaxNs", n.LatencyMaxNs},
		{"Net.TailMaxNs", n.TailMaxNs},
		{"Net.ReorderJitterNs", n.ReorderJitterNs},
	}
	for _, d := range delays {
		if err := checkDelay(d.name, d.ns); err != nil {
			return err
		}
	}
	return n.validateOrder()
}

// validateOrder checks the relations between knobs.
func (n NetConfig) validateOrder() error {
	if n.LatencyMinNs > n.LatencyMaxNs {
		return fmt.Errorf("sim: Net.LatencyMinNs = %d > Net.LatencyMaxNs = %d: want min <= max",
			n.LatencyMinNs, n.LatencyMaxNs)
	}
	if n.TailProb > 0 && n.TailMaxNs < n.LatencyMaxNs {
		return fmt.Errorf("sim: Net.TailMaxNs = %d < Net.LatencyMaxNs = %d: want the tail beyond the body",
			n.TailMaxNs, n.LatencyMaxNs)
	}
	if n.InflightPerLinkMax < 0 || n.InflightPerLinkMax > inflightPerLinkLimit {
		return fmt.Errorf("sim: Net.InflightPerLinkMax = %d: want a value in [0,%d] (0 = default %d)",
			n.InflightPerLinkMax, inflightPerLinkLimit, inflightPerLinkDefault)
	}
	return nil
}

func checkProb(name string, p float64) error {
	// The negated form also rejects NaN.
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("sim: %s = %v: want a probability in [0,1]", name, p)
	}
	return nil
}

func checkDelay(name string, ns int64) error {
	if ns < 0 || ns > delayLimitNs {
		return fmt.Errorf("sim: %s = %d: want a duration in [0,%d] ns", name, ns, delayLimitNs)
	}
	return nil
}

// normalized fills in defaults so that the stored config says what is used.
func (n NetConfig) normalized() NetConfig {
	if n.InflightPerLinkMax == 0 {
		n.InflightPerLinkMax = inflightPerLinkDefault
	}
	return n
}

// validFactor reports whether a drift factor is usable: positive, finite and
// small enough that a tick period stays within delayLimitNs for sane ticks.
func validFactor(f float64) bool {
	return f > 0 && f <= 100 && !math.IsInf(f, 0)
}
