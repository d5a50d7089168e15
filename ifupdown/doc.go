// Package ifupdown owns the two files ovsmesh keeps on a host: the ovsmesh block of
// /etc/network/interfaces, which rebuilds at boot the Open vSwitch bridge, its
// tunnels and docker0 through Debian's openvswitch-switch and bridge-utils ifupdown
// hooks, and the keys ovsmesh sets in Docker's /etc/docker/daemon.json.
//
// Rendering and merging are pure functions of a topology.HostState and the file's
// current bytes: everything outside the managed block, and every daemon.json key
// ovsmesh does not own, is kept as the operator wrote it. WriteIfChanged and Files
// are the only code that touches the disk; they write atomically and only when the
// bytes change.
//
// It imports topology and the standard library only: never libovsdb, netlink or
// another ovsmesh adapter.
package ifupdown
