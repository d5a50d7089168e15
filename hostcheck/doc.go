// Package hostcheck is the pre-flight that `ovsmesh check` runs before a first
// apply: it probes this host (the files probe*.go do the I/O: ping, netlink
// reads, one read-only OVSDB read, /proc, ovs-appctl version, nft list) and
// judges what it found (judge*.go and report.go, pure and unit-tested) into items
// that are ok, a warning or a problem, each with its fix. Run (run.go) runs every
// probe and judge for one host's plan and returns the report; the command line
// only builds its Options and prints it. It changes nothing on the host.
package hostcheck
