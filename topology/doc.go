// Package topology is the pure half of ovsmesh: it parses and validates a topology
// file, computes the address plan, the overlay MTU and the set of tunnels (mesh, stp
// or tree), and turns all of it into the desired state of one host (HostState), a
// plain value that the adapters (ovsdb, openflow, linuxbridge, ifupdown) apply.
//
// It has no side effects besides reading the file it is asked to load, and it must
// not import any other ovsmesh package, libovsdb, netlink or os/exec: a test
// (internal/archtest) enforces this, so the whole plan stays testable without root.
package topology
