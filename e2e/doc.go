// Package e2e holds ovsmesh's end-to-end tests: the real ovsmesh binary applied to
// a lab of hosts (internal/lab: network namespaces with their own ovsdb-server and
// ovs-vswitchd on the userspace datapath), with containers on docker0 pinging
// across the tunnels. It has no code of its own; the tests need root and Open
// vSwitch, are skipped under -short, and fail instead of skipping with CI=true.
package e2e
