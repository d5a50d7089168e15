#!/usr/bin/env bash
# make bench-bfd: what BFD costs ovs-vswitchd on the userspace datapath, at 10, 100
# and 1000 peers (docs/bfd-cost.md has a run's figures and the defaults chosen).
#
# A two-host lab (bin/ovsmesh-lab up): host a and host b, each a network namespace
# with its own ovsdb-server and ovs-vswitchd (datapath_type=netdev). b gets N extra
# /32 underlay addresses on its br-phy (198.18.1.1, 198.18.1.2, ...), all inside
# the lab's /16. On each host a netdev bridge bench0 holds N tunnel ports: a's
# tunnel i goes to b's address i, b's tunnel i comes from it (local_ip), so a runs
# N BFD sessions and b answers every one. Per N and per BFD setting (off = the
# baseline, each interval, the candidate default rule, decay_min_rx) the script
# waits until every session on a is up, then samples a's ovs-vswitchd: CPU
# (utime+stime from /proc/PID/stat, % of one core), RSS, packets received on a's
# underlay link, BFD flaps. At N=100 it also cuts one path (nftables in the
# underlay namespace) and times how long a takes to see that session go down.
#
# Prints markdown tables on stdout, progress on stderr. Takes about 20 minutes
# (BFD_QUICK=1: N=10 and 100 only, about 12). Needs root. Knobs (environment):
#   BFD_QUICK=1        N=10 and 100 only
#   BFD_SIZES="10 100" the peer counts (default "10 100 1000")
#   BFD_INTERVALS      the intervals in ms (default "100 300 1000")
#   BFD_RUNS=2         samples per cell (interleaved: all settings, then again)
#   BFD_WINDOW=20      seconds per sample
#   BFD_SETTLE=5       seconds between "all up" and the sample
# Only traffic between lab namespaces; the lab is torn down on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${BFD_SIZES:-"10 100 1000"}
if [ "${BFD_QUICK:-0}" != 0 ]; then SIZES="10 100"; fi
INTERVALS=${BFD_INTERVALS:-"100 300 1000"}
RUNS=${BFD_RUNS:-2}
WINDOW=${BFD_WINDOW:-20}
SETTLE=${BFD_SETTLE:-5}
MULT=3
DECAY=1000  # bfd:decay_min_rx of the decay row (at the largest N >= 1000)
CUTS=3      # path cuts for the detection time at N=100, interval 100
A_ADDR=198.18.0.1
B_ADDR=198.18.0.2
PLEN=16
HZ=$(getconf CLK_TCK)

log() { echo "bench-bfd: $*" >&2; }
die() { log "$*"; exit 1; }

check_env() {
  [ "$(id -u)" -eq 0 ] || die "needs root: it creates network namespaces and runs Open vSwitch daemons"
  [ -x bin/ovsmesh-lab ] || die "bin/ovsmesh-lab is missing: run make build"
  local missing=()
  command -v jq >/dev/null || missing+=(jq)
  command -v nft >/dev/null || missing+=(nftables)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
      die "could not install ${missing[*]}: apt-get install -y ${missing[*]}"
  fi
}

WORK=$(mktemp -d /tmp/bench-bfd.XXXXXX)
STATE=$WORK/lab.json
RESULTS=$WORK/results.tsv
DETECT=$WORK/detect.tsv
: >"$RESULTS"
: >"$DETECT"

cleanup() {
  local rc=$?
  if [ -f "$STATE" ]; then
    bin/ovsmesh-lab down --state "$STATE" >&2 || { log "tear down failed: bin/ovsmesh-lab sweep --force"; rc=1; }
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR

lab_up() {
  bin/ovsmesh-lab up --hosts "a=$A_ADDR/$PLEN,b=$B_ADDR/$PLEN" --state "$STATE" >"$WORK/up.json" 2>"$WORK/up.log" ||
    { cat "$WORK/up.log" >&2; die "could not build the lab"; }
  A_NS=$(jq -r '.hosts[0].ns' "$STATE")
  B_NS=$(jq -r '.hosts[1].ns' "$STATE")
  A_DB=$(jq -r '.hosts[0].db' "$STATE")
  B_DB=$(jq -r '.hosts[1].db' "$STATE")
  A_PID=$(jq -r '.hosts[0].vswitchd_pid' "$STATE")
  UL_NS=$(jq -r '.underlay_ns' "$STATE")
  ADDRS=0
  # eth0 is a port of the userspace datapath, but the namespace's kernel sees
  # its frames too and would answer ARP for br-phy's addresses from eth0's MAC:
  # whichever answer ovs-vswitchd snoops last wins, and about a third of the
  # tunnels then send to the wrong MAC. Answer only on the interface that holds
  # the address.
  local ns
  for ns in "$A_NS" "$B_NS"; do ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1; done
  log "lab $(jq -r .id "$STATE") up: a=$A_NS (ovs-vswitchd pid $A_PID), b=$B_NS, underlay $UL_NS"
}

vs_a() { ovs-vsctl --timeout=300 --db="$A_DB" "$@"; }
vs_b() { ovs-vsctl --timeout=300 --db="$B_DB" "$@"; }

# addr_of I: b's I-th extra underlay address (I from 1 to 1000).
addr_of() { echo "198.18.$((1 + ($1 - 1) / 250)).$((1 + ($1 - 1) % 250))"; }

# ensure_addrs N: b has at least N extra addresses on br-phy.
ensure_addrs() {
  local n=$1 i batch=$WORK/addrs.batch
  [ "$n" -le "$ADDRS" ] && return 0
  : >"$batch"
  for ((i = ADDRS + 1; i <= n; i++)); do echo "addr add $(addr_of "$i")/32 dev br-phy" >>"$batch"; done
  ip -n "$B_NS" -batch "$batch"
  ADDRS=$n
}

# build_tunnels N TYPE: bench0 on both hosts with N tunnel ports t1..tN of TYPE
# (gre or vxlan), BFD off, no flows.
build_tunnels() {
  local n=$1 type=$2 i ip
  ensure_addrs "$n"
  # fail_mode=secure and no flows: bench0 forwards nothing, so its mesh of
  # tunnels cannot loop a broadcast (BFD is sent and consumed by vswitchd).
  local a=(-- --if-exists del-br bench0 -- add-br bench0 -- set bridge bench0 datapath_type=netdev fail_mode=secure)
  local b=("${a[@]}")
  for ((i = 1; i <= n; i++)); do
    ip=$(addr_of "$i")
    a+=(-- add-port bench0 "t$i" -- set interface "t$i" "type=$type" "options:remote_ip=$ip")
    b+=(-- add-port bench0 "t$i" -- set interface "t$i" "type=$type" "options:remote_ip=$A_ADDR" "options:local_ip=$ip")
  done
  vs_a "${a[@]}"
  vs_b "${b[@]}"
  log "N=$n: $n $type tunnels on bench0 of a and b"
}

# set_bfd N MODE INTERVAL: MODE off clears bfd on every tunnel; bfd, rule and
# decay set min_tx=min_rx=INTERVAL, mult (decay adds decay_min_rx).
set_bfd() {
  local n=$1 mode=$2 ivl=$3 i spec
  spec="{enable=true,min_tx=$ivl,min_rx=$ivl,mult=$MULT}"
  [ "$mode" = decay ] && spec="{enable=true,min_tx=$ivl,min_rx=$ivl,mult=$MULT,decay_min_rx=$DECAY}"
  local args=()
  for ((i = 1; i <= n; i++)); do
    if [ "$mode" = off ]; then args+=(-- clear interface "t$i" bfd); else args+=(-- set interface "t$i" "bfd=$spec"); fi
  done
  vs_a "${args[@]}"
  vs_b "${args[@]}"
}

# sessions_up: how many of a's BFD sessions are up (the key after remote_state).
sessions_up() { vs_a -f csv --no-headings --columns=bfd_status list interface | grep -c ' state=up' || true; }

# flaps: the sum of flap_count over a's BFD sessions.
flaps() {
  vs_a -f csv --no-headings --columns=bfd_status list interface |
    { grep -o 'flap_count=""[0-9]*' || true; } | tr -dc '0-9\n' | awk '{s += $1} END {print s + 0}'
}

# wait_up N: waits (up to 60 s) until all N sessions on a are up; returns 1 if not.
wait_up() {
  local n=$1 deadline=$((SECONDS + 60)) up
  while :; do
    up=$(sessions_up)
    [ "$up" -ge "$n" ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "only $up of $n sessions up after 60 s"
      return 1
    fi
    sleep 0.5
  done
}

cpu_ticks() { sed 's/.*) //' "/proc/$A_PID/stat" | awk '{print $12 + $13}'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$A_PID/status"; }
rx_packets() { ip -n "$A_NS" -s -j link show eth0 | jq '.[0].stats64.rx.packets'; }
now_ns() { date +%s%N; }

# sample N TYPE MODE INTERVAL RUN: one measurement window; appends to RESULTS.
sample() {
  local n=$1 type=$2 mode=$3 ivl=$4 run=$5 expect=$1
  [ "$mode" = off ] && expect=0
  set_bfd "$n" "$mode" "$ivl"
  wait_up "$expect" || true
  sleep "$SETTLE"
  local t0 c0 r0 f0 t1 c1 r1 f1 up rss load
  f0=$(flaps); t0=$(now_ns); c0=$(cpu_ticks); r0=$(rx_packets)
  sleep "$WINDOW"
  t1=$(now_ns); c1=$(cpu_ticks); r1=$(rx_packets); f1=$(flaps)
  up=$(sessions_up); rss=$(rss_kb); load=$(cut -d' ' -f1 /proc/loadavg)
  local line
  line=$(awk -v n="$n" -v ty="$type" -v m="$mode" -v i="$ivl" -v run="$run" -v dt=$((t1 - t0)) \
    -v dc=$((c1 - c0)) -v dr=$((r1 - r0)) -v hz="$HZ" -v fl=$((f1 - f0)) -v up="$up" -v rss="$rss" -v ld="$load" \
    'BEGIN {s = dt / 1e9; printf "%d\t%s\t%s\t%d\t%d\t%.2f\t%d\t%.0f\t%d\t%d\t%s\n",
      n, ty, m, i, run, 100 * dc / hz / s, rss, dr / s, fl, up, ld}')
  echo "$line" >>"$RESULTS"
  log "$(echo "$line" | awk -F'\t' '{printf "N=%s %s %s %sms run %s: cpu %s%% rss %d KiB rx %s pkt/s flaps %s up %s load %s",
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11}')"
}

# rule_interval N: the candidate default, max(100 ms, 1 ms x hosts), hosts = N + 1.
rule_interval() { local h=$(($1 + 1)); echo $((h > 100 ? h : 100)); }

# bench_size N TYPE INTERVALS...: RUNS interleaved passes over every setting.
bench_size() {
  local n=$1 type=$2 run ivl
  shift 2
  build_tunnels "$n" "$type"
  for ((run = 1; run <= RUNS; run++)); do
    sample "$n" "$type" off 0 "$run"
    for ivl in "$@"; do sample "$n" "$type" bfd "$ivl" "$run"; done
    [ "$type" = gre ] && sample "$n" "$type" rule "$(rule_interval "$n")" "$run"
    if [ "$type" = gre ] && [ "$n" -ge 1000 ]; then sample "$n" "$type" decay 100 "$run"; fi
  done
  return 0
}

# nft_ul ARGS: nft in the underlay namespace (the Linux bridge between the hosts).
nft_ul() { ip netns exec "$UL_NS" nft "$@"; }

# poll_state K WANT LIMIT_S: polls a's bfd_status:state of tK every 20 ms until
# it is WANT; prints "elapsed_ms polls", or "timeout polls" after LIMIT_S.
poll_state() {
  local k=$1 want=$2 limit=$3 t0 polls=0 st
  t0=$(now_ns)
  while :; do
    st=$(vs_a get interface "t$k" bfd_status:state)
    polls=$((polls + 1))
    if [ "$st" = "$want" ]; then
      echo "$((($(now_ns) - t0) / 1000000)) $polls"
      return 0
    fi
    if [ $(($(now_ns) - t0)) -ge $((limit * 1000000000)) ]; then
      echo "timeout $polls"
      return 0
    fi
    sleep 0.02
  done
}

# detect LABEL K: drops IPv4 between a and b's address K in the underlay and
# times until a sees tK down, then lifts the cut and times until it is up.
detect() {
  local label=$1 k=$2 ip down up
  ip=$(addr_of "$k")
  nft_ul add rule bridge bfdbench cutpath ip saddr "$A_ADDR" ip daddr "$ip" drop
  nft_ul add rule bridge bfdbench cutpath ip saddr "$ip" ip daddr "$A_ADDR" drop
  down=$(poll_state "$k" down 20)
  nft_ul flush chain bridge bfdbench cutpath
  up=$(poll_state "$k" up 30)
  printf '%s\tt%d\t%s\t%s\t%s\n' "$label" "$k" "${down% *}" "${down#* }" "${up% *}" >>"$DETECT"
  log "$label: cut t$k ($A_ADDR <-> $ip): down after ${down% *} ms (${down#* } polls), up again ${up% *} ms after the path returned"
}

# detections N MODE INTERVAL LABEL CUTS: all sessions up in that setting, then
# CUTS cuts on different tunnels.
detections() {
  local n=$1 mode=$2 ivl=$3 label=$4 cuts=$5 c
  set_bfd "$n" "$mode" "$ivl"
  wait_up "$n" || true
  sleep "$SETTLE"
  nft_ul list table bridge bfdbench >/dev/null 2>&1 ||
    nft_ul add table bridge bfdbench
  nft_ul add chain bridge bfdbench cutpath '{ type filter hook forward priority 0; policy accept; }' 2>/dev/null || true
  for ((c = 1; c <= cuts; c++)); do detect "$label" $((c * n / (cuts + 1))); done
}

print_cost_table() {
  echo "| peers | tunnel | BFD | CPU % of a core (runs) | CPU % mean | minus baseline | x baseline | BFD pkt/s each way (nominal) | pkt/s into a (measured) | RSS MiB | flaps | up |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  awk -F'\t' -v decay="$DECAY" -v mult="$MULT" '
    { k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4
      if (!(k in cnt)) { order[++nk] = k; n[k] = $1; ty[k] = $2; m[k] = $3; iv[k] = $4; mn[k] = $10 }
      cnt[k]++; sum[k] += $6; runs[k] = runs[k] (cnt[k] > 1 ? " / " : "") $6
      if ($7 > rss[k]) rss[k] = $7
      rx[k] += $8; fl[k] += $9; if ($10 < mn[k]) mn[k] = $10
      if ($3 == "off") { bs[$1 SUBSEP $2] += $6; bc[$1 SUBSEP $2]++ } }
    END { for (j = 1; j <= nk; j++) { k = order[j]; mean = sum[k] / cnt[k]
        b = bs[n[k] SUBSEP ty[k]] / bc[n[k] SUBSEP ty[k]]
        if (m[k] == "off") { set = "off (baseline)"; pps = 0 }
        else if (m[k] == "rule") { set = sprintf("rule: %d ms x %d", iv[k], mult); pps = n[k] * 1000 / iv[k] }
        else if (m[k] == "decay") { set = sprintf("%d ms x %d, decay_min_rx=%d", iv[k], mult, decay); pps = n[k] * 1000 / decay " (idle)" }
        else { set = sprintf("%d ms x %d", iv[k], mult); pps = n[k] * 1000 / iv[k] }
        if (pps + 0 == pps) pps = sprintf("%.0f", pps)
        if (m[k] == "off") { d = "-"; r = "-" } else { d = sprintf("%+.2f", mean - b); r = b > 0 ? sprintf("%.1f", mean / b) : "-" }
        printf "| %d | %s | %s | %s | %.2f | %s | %s | %s | %.0f | %.1f | %d | %d/%d |\n",
          n[k], ty[k], set, runs[k], mean, d, r, pps, rx[k] / cnt[k], rss[k] / 1024, fl[k], mn[k], m[k] == "off" ? 0 : n[k] } }
  ' "$RESULTS"
}

print_tables() {
  echo
  echo "BFD cost on a's ovs-vswitchd (userspace datapath), $RUNS runs of ${WINDOW}s per cell, $(nproc) cores, $(ovs-vswitchd --version | head -1)"
  echo
  print_cost_table
  echo
  echo "Detection: one path cut in the underlay, a's bfd_status:state polled every 20 ms"
  echo
  echo "| setting | tunnel | cut to state=down (ms) | polls | path back to state=up (ms) |"
  echo "|---|---|---|---|---|"
  awk -F'\t' '{printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5}' "$DETECT"
  echo
  echo "Every sample (load = 1-minute load average at its end):"
  echo
  echo "| peers | tunnel | mode | interval ms | run | CPU % | RSS KiB | pkt/s into a | flaps | up | load |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11}' "$RESULTS"
}

main() {
  check_env
  lab_up
  local n start=$SECONDS
  for n in $SIZES; do
    # shellcheck disable=SC2086 # INTERVALS is a list
    bench_size "$n" gre $INTERVALS
    if [ "$n" -eq 100 ]; then
      detections 100 bfd 100 "N=100 gre, 100 ms x $MULT" "$CUTS"
      bench_size 100 vxlan 100
    fi
    if [ "$n" -ge 1000 ]; then
      detections "$n" decay 100 "N=$n gre, 100 ms x $MULT, decay_min_rx=$DECAY" 2
    fi
  done
  print_tables
  log "done in $((SECONDS - start)) s"
}

main
