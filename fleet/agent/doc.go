// Package agent is a host's side of fleet mode, what `apply --etcd` runs beside
// the reconcile loop: it joins the fleet (retrying while etcd is unreachable),
// keeps the host's liveness lease, follows the fleet's view and hands it to the
// loop as a value (it is the loop's controller.Source), keeps the last good view
// on disk for reboots and etcd outages (the saved view file, whose header names
// the etcd revision), and exports its metrics.
//
// It reaches etcd only through package fleet (the only importer of the etcd
// client), and reads no command-line flag: its errors name none.
package agent
