// Package lab owns the end-to-end test lab of ovsmesh (README, Development): a set of
// network namespaces on this machine that stand in for Docker hosts and their
// containers, each host with a private ovsdb-server and ovs-vswitchd running
// Open vSwitch's userspace datapath (datapath_type=netdev).
//
// A lab with ID "om1a2b3c" consists of
//
//   - namespace "om1a2b3c-ul": the underlay, a Linux bridge "br-ul";
//   - per host H, namespace "om1a2b3c-H": a veth "eth0" whose peer is a port of
//     br-ul, an OVS bridge "br-phy" (netdev) holding eth0, and the host's
//     underlay address on the br-phy interface (OVS "userspace tunneling": the
//     tunnel ports the product creates on br0 are routed by ovs-vswitchd's own
//     route table, learned from the namespace, out through br-phy);
//   - per container C, namespace "om1a2b3c-C" whose eth0 is the peer of a veth
//     that is a port of the host's docker0 bridge (which the product creates);
//   - a directory os.TempDir()/ovsmesh-lab-om1a2b3c with one run directory per
//     host: database, sockets (OVS_RUNDIR), pidfiles and logs.
//
// The lab never touches the root network namespace or the system's Open
// vSwitch: every link lives in a lab namespace, every daemon is private to the
// lab and is killed by the pid it recorded. Traffic only flows between lab
// namespaces. Close tears a lab down completely; Sweep removes leftovers of
// runs that were killed before they could call Close.
//
// Everything here needs root, the ip, ethtool and ping commands and the Open
// vSwitch userspace tools (ovsdb-tool, ovsdb-server, ovs-vswitchd, ovs-vsctl).
//
// It is a developer tool, not part of the product.
package lab
