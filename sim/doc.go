// Package sim is the deterministic simulation world: a virtual clock, one
// event queue ordered by (virtual time, sequence number), seeded random
// streams, a network that drops, delays, reorders, duplicates, corrupts,
// clogs and partitions opaque packets, a per-process disk with crash
// semantics, process crash/restart/pause/drift, and a hashed trace of every
// event.
//
// It is not a consensus library and knows nothing about Paxos, locks or any
// wire format: a Process is a program that receives packets (byte slices)
// and ticks, and acts through an Env. The world runs on the caller's
// goroutine and never starts one; it reads no wall clock and uses no global
// randomness. Every choice comes from math/rand/v2 PCG streams derived from
// the world seed, one stream per purpose (and per address where that keeps
// streams independent), so that a draw added in one place does not reshuffle
// the choices made elsewhere. Given the same seed, the same configuration and
// the same sequence of harness calls, a world produces the same trace, byte
// for byte, which TraceHash summarises.
//
// Semantics the harness can rely on (each decision is documented where it is
// implemented):
//
//   - A packet crosses a link only if the link is open both when the packet is
//     sent and when it arrives; packets already in flight survive a restart
//     of their receiver and are dropped if it is down when they arrive.
//   - A paused process keeps its packets: they wait and are delivered, in
//     arrival order, when it resumes.
//   - Partition cuts the links between different groups; an address named in
//     no group keeps all its links.
//   - World methods called with an unknown address, or that make no sense in
//     the process's current state (restarting a process that is up), do
//     nothing and count in Stats.Ignored; they never panic.
package sim
