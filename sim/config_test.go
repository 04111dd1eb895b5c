package sim_test

import (
	"math"
	"strings"
	"testing"

	"paxlock/sim"
)

func TestConfigValidation(t *testing.T) {
	cases := []struct {
		name string
		mod  func(c *sim.Config)
		want string // substring of the error; "" means valid
	}{
		{"zero", func(c *sim.Config) {}, ""},
		{"default", func(c *sim.Config) { *c = sim.DefaultConfig() }, ""},
		{"drop high", func(c *sim.Config) { c.Net.DropProb = 1.5 }, "sim: Net.DropProb = 1.5: want a probability in [0,1]"},
		{"drop negative", func(c *sim.Config) { c.Net.DropProb = -0.1 }, "Net.DropProb"},
		{"drop NaN", func(c *sim.Config) { c.Net.DropProb = math.NaN() }, "Net.DropProb"},
		{"dup", func(c *sim.Config) { c.Net.DupProb = 2 }, "Net.DupProb"},
		{"corrupt", func(c *sim.Config) { c.Net.CorruptProb = -1 }, "Net.CorruptProb"},
		{"tail prob", func(c *sim.Config) { c.Net.TailProb = 1.01 }, "Net.TailProb"},
		{"reorder prob", func(c *sim.Config) { c.Net.ReorderProb = math.Inf(1) }, "Net.ReorderProb"},
		{"latency min negative", func(c *sim.Config) { c.Net.LatencyMinNs = -1 }, "Net.LatencyMinNs = -1"},
		{"latency max negative", func(c *sim.Config) { c.Net.LatencyMaxNs = -1 }, "Net.LatencyMaxNs = -1"},
		{"latency huge", func(c *sim.Config) { c.Net.LatencyMaxNs = math.MaxInt64 }, "Net.LatencyMaxNs"},
		{"min > max", func(c *sim.Config) { c.Net.LatencyMinNs, c.Net.LatencyMaxNs = 5, 3 }, "Net.LatencyMinNs = 5 > Net.LatencyMaxNs = 3"},
		{"tail below body", func(c *sim.Config) { c.Net.LatencyMaxNs, c.Net.TailProb, c.Net.TailMaxNs = 10, 0.1, 5 }, "Net.TailMaxNs"},
		{"tail negative", func(c *sim.Config) { c.Net.TailMaxNs = -3 }, "Net.TailMaxNs"},
		{"jitter negative", func(c *sim.Config) { c.Net.ReorderJitterNs = -3 }, "Net.ReorderJitterNs"},
		{"inflight negative", func(c *sim.Config) { c.Net.InflightPerLinkMax = -1 }, "Net.InflightPerLinkMax"},
		{"torn", func(c *sim.Config) { c.DiskTornProb = 3 }, "DiskTornProb"},
		{"drift", func(c *sim.Config) { c.DriftMax = 1 }, "DriftMax"},
		{"drift negative", func(c *sim.Config) { c.DriftMax = -0.1 }, "DriftMax"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cfg sim.Config
			c.mod(&cfg)
			w, err := sim.NewWorld(1, cfg)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("err = %v, want one containing %q", err, c.want)
			case c.want != "" && w != nil:
				t.Error("a world was returned with the error")
			}
		})
	}
}
