#!/usr/bin/env bash
# make bench-fleet: fleet mode at 1000 members, two runs.
#  1. fleet/ TestScaleThousandMembers: 1000 simulated members (a record and a
#     liveness lease each, no OVS) on an etcd on loopback: joins, one view pass
#     against compiling the same file, join-to-view, etcd's RSS and CPU.
#  2. e2e/ TestFleetScaleWithRealHosts: the same 1000 simulated members plus three
#     real lab hosts (network namespaces, OVS on the userspace datapath, a GRE
#     mesh of 1003 hosts), then file mode on the same hosts and hosts: first and
#     steady passes, join-to-plan at every real host, a fourth host joining fresh and
#     restarted (its tunnel's flow in each real host's table, seen by an OpenFlow
#     flow monitor, and the first ping reply from each real host's container),
#     etcd's RSS and CPU. docker1 runs on a CPU of its own (taskset), the rest
#     share the others.
# Prints each run's table (markdown) at the end. Needs root and etcd
# (scripts/deps.sh). Takes a few minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "bench-fleet needs root: the second run builds a lab of network namespaces with Open vSwitch" >&2
  exit 1
fi
table=$(mktemp /tmp/ovsmesh-bench-fleet.XXXXXX)
trap 'rm -f "$table"' EXIT
export OVSMESH_SCALE=1 OVSMESH_BENCH_TABLE="$table"
go test -count=1 -timeout 20m -run '^TestScaleThousandMembers$' -v ./fleet/
go test -count=1 -timeout 30m -run '^TestFleetScaleWithRealHosts$' -v ./e2e/
echo
echo "== bench-fleet results"
cat "$table"
