// Package linuxbridge owns the Linux bridge Docker uses (docker0 by default): the
// bridge itself, its address and MTU, and the OVS bridge's internal interface
// enslaved to it, all up. Bridge.Apply converges them to a topology.DockerBridge
// over netlink, through an injected *netlink.Handle (a test hands in one bound to a
// throwaway network namespace), and never replaces or deletes a link. Veth reads
// which port of a bridge is a container's veth (veth.go).
// Bridge.AttachNetworks (networks.go) joins the bridges Docker builds for the
// topology's networks to their OVS internal ports, without creating them.
//
// The address diff (addrs.go) is pure; bridge.go does the netlink I/O. It imports
// topology and vishvananda/netlink (and netns) only: never libovsdb, go-openvswitch, os/exec or
// another ovsmesh package (internal/archtest enforces this).
//
// DefaultRouteAddress (defaultroute.go) reads, changing nothing, which address
// the host's default route leaves from: a fleet host given none registers that
// one. It retries interrupted netlink dumps as the rest of the package does.
package linuxbridge
