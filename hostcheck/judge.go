package hostcheck

import (
	"fmt"
	"net/netip"
)

// PathResult is what probing the underlay path to one peer found.
type PathResult struct {
	Peer    string
	Address netip.Addr
	// Reachable: the smallest probe got an answer.
	Reachable bool
	// Largest is the largest IP packet, in bytes, that crossed with DF set
	// (0 when not reachable).
	Largest int
}

// Plan is what the topology asks of the underlay.
type Plan struct {
	UnderlayMTU int // IP packet size the tunnels need: overlay MTU + overhead
	Overhead    int // encapsulation bytes
}

// JudgeUnderlay turns one peer's probe result into an item.
func JudgeUnderlay(p Plan, r PathResult) Item {
	it := Item{Check: "underlay", Subject: fmt.Sprintf("%s (%s)", r.Peer, r.Address)}
	switch {
	case !r.Reachable:
		it.Status = Problem
		it.Detail = "no answer to ping over the underlay: the peer is down, unreachable or filters ICMP"
		it.Fix = fmt.Sprintf("make %s reachable from this host (route, cabling, firewall), or fix its address in the topology", r.Address)
	case r.Largest >= p.UnderlayMTU:
		it.Status = OK
		it.Detail = fmt.Sprintf("%d-byte packets with DF set cross (the plan needs %d)", p.UnderlayMTU, p.UnderlayMTU)
	default:
		it.Status = Problem
		it.Detail = fmt.Sprintf("the largest packet with DF set that crosses is %d bytes; the plan needs %d", r.Largest, p.UnderlayMTU)
		it.Fix = fmt.Sprintf("set network.underlay_mtu: %d (overlay mtu %d), or raise the path's MTU to %d", r.Largest, r.Largest-p.Overhead, p.UnderlayMTU)
	}
	return it
}
