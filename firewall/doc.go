// Package firewall owns ovsmesh's host firewall: one nftables table, family inet,
// named topology.FirewallTable ("ovsmesh"), whose base chains drop the tunnel
// packets containers send (see topology.Firewall). Table.Apply converges that
// table to a topology.Firewall over netlink (github.com/google/nftables, no nft
// process) in one atomic batch, and never reads for change, writes or deletes any
// other table, chain or rule: the operator's and Docker's rules stay as they are.
// IdentityTable does the same for a second table, family bridge, of the same name:
// the per-container identity checks (see topology.IdentityRules), kept chain by
// chain as containers come and go.
//
// The translation of rules into nftables expressions (exprs.go) is pure; table.go
// does the netlink I/O. It imports topology and google/nftables only: never
// libovsdb, go-openvswitch, netlink (vishvananda), os/exec or another ovsmesh
// package (internal/archtest enforces this).
package firewall
