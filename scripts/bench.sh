#!/usr/bin/env bash
# make bench, second half: the end-to-end benchmark (cmd/ovsmesh-bench, logic in
# internal/bench). One lab host (a network namespace with its own ovsdb-server and
# ovs-vswitchd on the userspace datapath) plays one host of a 100- and a 1000-host
# GRE mesh; the real bin/ovsmesh is timed against ovs-vsctl and ovs-ofctl. It prints
# markdown tables on stdout (paste them into the README) and its progress on stderr.
#
# Takes about 4 minutes on a 2-core VM (make bench in all: 4m04s, of which 15 s
# are the topology benchmarks), 2.5 of them for the per-tunnel ovs-vsctl case at
# N=1000 (50-80 s a run, so 3 runs instead of 5). Needs root.
# Extra options through BENCH_ARGS, e.g. BENCH_ARGS="--sizes 100 --runs 3".
# BENCH_ARGS="--loop --sizes 1000 --runs 7 --profile-dir DIR" times the reconcile
# loop's passes instead, --loop-cpu its CPU and memory (docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "the end-to-end benchmark needs root: it creates a network namespace and runs Open vSwitch daemons" >&2
  exit 1
fi
# shellcheck disable=SC2086 # BENCH_ARGS is a list of options
exec bin/ovsmesh-bench --ovsmesh bin/ovsmesh ${BENCH_ARGS:-}
