#!/usr/bin/env bash
# make demo: a three-host lab from examples/lab.yaml, ovsmesh apply on every host,
# pings across the mesh. DEMO_KEEP=1 leaves the lab up for `make demo-down`.
# `demo.sh fleet` (make demo-fleet): the same hosts in fleet mode, from etcd.
set -euo pipefail
cd "$(dirname "$0")/.."
state=.lab-state.json
if [ "${1:-}" = down ]; then
  [ -f "$state" ] || { echo "no demo lab is up ($state missing)"; exit 0; }
  exec bin/ovsmesh-lab down --state "$state"
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "make demo needs root: it creates network namespaces and runs Open vSwitch daemons" >&2
  exit 1
fi
if [ -f "$state" ]; then
  echo "a demo lab is still up: run make demo-down first" >&2
  exit 1
fi
if [ "${1:-}" = fleet ]; then
  exec bin/ovsmesh-lab demo --fleet --topology examples/lab.yaml --ovsmesh bin/ovsmesh
fi
keep=()
[ "${DEMO_KEEP:-}" = 1 ] && keep=(--keep --state "$state")
exec bin/ovsmesh-lab demo --topology examples/lab.yaml --ovsmesh bin/ovsmesh "${keep[@]}"
