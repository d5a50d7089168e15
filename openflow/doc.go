// Package openflow owns ovsmesh's part of the OpenFlow table of the OVS bridge:
// every flow that carries the cookie topology.FlowCookie, and nothing else. Table
// installs the flows of topology.HostState.Flows: it dumps the flows carrying the
// cookie (ovs-ofctl dump-flows), compares them with the wanted ones in a canonical
// text form, and sends the difference as one atomic OpenFlow bundle (ovs-ofctl
// --bundle): the flows to add, written by go-openvswitch's ovs package, and a
// strict delete of each flow to remove; nothing at all when the table already
// matches. Flows with another cookie are never modified or deleted.
//
// The canonicalization of wanted flows and of the dump's text, and the diff
// (convert.go, dump.go, diff.go) are pure; table.go does the I/O through a
// one-method Runner.
//
// It imports topology and go-openvswitch only: never libovsdb, netlink or another
// ovsmesh package (internal/archtest enforces this).
package openflow
