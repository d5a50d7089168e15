// Package status assembles what `ovsmesh status` shows of one host, reading
// only: ovsmesh's bridges and tunnels from OVSDB (ovsdb), their flow counts and
// the paths the relays choose (openflow, topology.ChoosePath on the tunnels'
// BFD), the docker bridge and its port (linuxbridge), ovsmesh's firewall table
// (firewall), Docker's own view of its network (dockerapi) and, with a
// topology, the drift: what a pass would change (controller.Reconciler.Drift).
// Report is the -o json output as is; WriteText is the text output.
//
// It changes nothing on the host. It imports the adapters it reads through and
// controller for the drift's result, never etcd (the fleet view is the command
// line's to read) or the metrics (internal/archtest enforces this).
package status
