// Package topofile is the topology file as a source of the reconcile loop
// (controller.Source) and of a single apply: it watches the file for changes
// (size, modification time, inode), reads a version only once it has settled
// (FileGuard: a file caught half written can be valid YAML that lists fewer
// hosts), keeps the last good topology in force while the file is invalid or
// missing, and logs each problem once per version of the file.
//
// It imports topology and controller (for the Source's types) and no adapter;
// the controller never imports it (internal/archtest enforces both).
package topofile
