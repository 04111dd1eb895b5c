#!/bin/sh
# Runs two paxsim binaries side by side on the same seed range, alternating
# them so that both see the same machine weather, and prints one line per
# run: wall, seeds/s, sim/wall from paxsim's own summary, and the CPU
# seconds (user+sys) the process used, per seed.
#
#   cmd/paxsim/sidebyside.sh OLD NEW [SEEDS] [ROUNDS] [extra paxsim flags...]
#
# Build OLD at the commit to compare against, e.g.
#   git worktree add /tmp/old 4ba0428 && (cd /tmp/old && go build -o /tmp/paxsim-old ./cmd/paxsim)
set -eu
old=$1 new=$2 seeds=${3:-2000} rounds=${4:-3}
shift 2; [ $# -gt 0 ] && shift; [ $# -gt 0 ] && shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-4s %-5s %8s %9s %9s %12s\n' round bin wall_s seeds/s sim/wall cpu_ms/seed
for r in $(seq 1 "$rounds"); do
	for b in old new; do
		eval bin=\$$b
		/usr/bin/time -f '%U %S' -o "$tmp/time" "$bin" -seeds "$seeds" "$@" 2>"$tmp/out" >/dev/null
		wall=$(awk '/^  wall/{print $2}' "$tmp/out")
		sps=$(awk '/seeds\/s/{print $2}' "$tmp/out")
		ratio=$(awk '/sim\/wall/{print $2}' "$tmp/out")
		fails=$(awk '/^paxsim:/{print $(NF-1)}' "$tmp/out")
		cpu=$(awk -v n="$seeds" '{printf "%.2f", ($1+$2)*1000/n}' "$tmp/time")
		printf '%-4s %-5s %8s %9s %9s %12s  failures=%s\n' "$r" "$b" "$wall" "$sps" "$ratio" "$cpu" "$fails"
	done
done
