// Package adapters fits ovsmesh's concrete packages to the small interfaces the
// controller declares, where one package alone cannot: Guard checks the OVS
// bridge (ovsdb) and the docker bridge (linuxbridge) before a pass changes
// anything, FlowTables reaches the flow table (openflow) of whichever bridge the
// plan names, and SystemdObserver tells systemd how a reconcile loop is doing
// (internal/sdnotify). The command line wires them into a controller.Reconciler.
//
// It holds no state of its own beyond what each adapter is given, and imports
// controller, the adapters it fits and topology: never etcd, the metrics or
// cobra (internal/archtest enforces this).
package adapters
