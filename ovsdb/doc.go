// Package ovsdb owns ovsmesh's view of the Open_vSwitch database: the bridge named
// in the topology, its internal port, and one Port+Interface pair per tunnel, all
// marked with external_ids:ovsmesh-owner (topology.OwnerKey).
//
// It is the only package of ovsmesh that imports libovsdb (and its generated models
// in ovsdb/vswitchd). It imports topology for the desired state and must not import
// any other ovsmesh package, netlink or os/exec.
//
// Apply reads a plain snapshot out of the libovsdb cache, computes the difference
// with a pure function (diff.go) and sends it as exactly one transaction, or none
// when nothing differs. Two exceptions: a pass that deleted ports of an RSTP
// bridge follows it with two small transactions that make RSTP reselect port roles
// (rstp.go), because OVS 3.1 keeps a deleted root port otherwise; and a pass that
// deletes tunnels clashing with ones it creates, or recreates tunnels ovs-vswitchd
// refused, deletes those first in a transaction of its own (repair.go), because
// OVS 3.1 adds new ports before it releases deleted ones.
//
// Ownership: a Port or Interface is ovsmesh's if and only if its external_ids has
// the ovsmesh-owner key. Owned tunnel ports that the topology no longer wants are
// removed; ports without the mark are never modified or removed, and a wanted
// tunnel whose name is taken by such a port is reported as an error instead of
// being taken over. The bridge named in the topology is refused when it exists
// without the mark (built by hand: often the host's own uplink) or with another
// host's mark (a cloned machine, a wrong --host): Apply then changes nothing. Only
// WithTakeOver adopts such a bridge: ovsmesh then sets the columns it manages and
// its owner mark on it and its internal port; the bridge's other ports and the
// operator's external_ids keys are left alone. Bridges this host owns that the
// topology no longer names (network.bridge was renamed) are deleted.
package ovsdb
