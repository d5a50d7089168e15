#!/usr/bin/env bash
# Installs what ovsmesh's build, tests and demo need and are missing: Debian's Open
# vSwitch (ovsdb-server, ovs-vswitchd, ovs-vsctl, ovs-ofctl), ifupdown (ifquery, and
# the openvswitch-switch hooks), bridge-utils, iproute2, ping, tcpdump, ethtool,
# etcd-server (fleet mode's tests start their own etcd on their own ports), etcd-client
# (etcdctl: the trust tests run the commands of fleet grant), lintian
# (the package test checks make deb's package) and nftables (the failover tests cut
# an underlay path in the lab; check's firewall test), and real Docker for the lab's
# hosts: docker.io, containerd, runc, busybox-static (the lab's image) and docker-compose.
# Quick when everything is there; needs root (apt-get) otherwise.
set -euo pipefail
declare -A pkg_of=(
  [ovs-vswitchd]=openvswitch-switch [ovsdb-server]=openvswitch-switch [ovs-vsctl]=openvswitch-switch
  [ifquery]=ifupdown [brctl]=bridge-utils [ip]=iproute2 [ping]=iputils-ping [tcpdump]=tcpdump
  [ethtool]=ethtool [etcd]=etcd-server [etcdctl]=etcd-client [lintian]=lintian [nft]=nftables
  [dockerd]=docker.io [containerd]=containerd [runc]=runc [docker-compose]=docker-compose
  [nsenter]=util-linux [unshare]=util-linux
)
missing=()
for bin in "${!pkg_of[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$bin" >/dev/null 2>&1 || missing+=("${pkg_of[$bin]}")
done
# The lab's image needs a static busybox (Debian's busybox package is dynamic).
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
  missing+=(busybox-static)
fi
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  echo "deps: Go is missing: install Go 1.26 (https://go.dev/dl/) and put it on PATH" >&2
  exit 1
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
# The package starts the system's Open vSwitch; ovsmesh's tests and demo run their
# own daemons in network namespaces and never use it.
