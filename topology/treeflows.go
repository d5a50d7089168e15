package topology

import "net/netip"

// treeRoute is one remote host as a tree host reaches it: the addresses it owns
// and the tunnel toward it (the first hop of the tree path).
type treeRoute struct {
	addrs [2]string // the host's slice and docker0 address
	port  int       // OpenFlow port of the tunnel toward it
	out   []string  // output to that tunnel
}

// treeFlowTable computes the flow table of a host in tree mode. Like mesh's, it
// never hands a frame to NORMAL, so the bridge learns no MAC address: after a
// re-tree no learned entry can point into the old direction (with NORMAL, transit
// hosts whose own tunnels had not changed kept sending frames the old way until
// the entries aged out). Forwarding is computed from the tree instead:
//
//   - table 0: a frame from the local port must carry the host's own source; a
//     frame from the tunnel toward a neighbour must carry the source of a host on
//     that neighbour's side of the tree. Allowed local frames go to table 1,
//     allowed tunnel frames to table 2; other IPv4 and ARP, and frames from ports
//     ovsmesh does not manage, are dropped.
//   - table 1 (from local): ARP for, and unicast IPv4 to, a remote host's
//     addresses go into the tunnel toward that host; other unicast IPv4 goes
//     nowhere; everything else (broadcast, multicast) into every tunnel.
//   - table 2 (from a tunnel): the same per remote host (transit), this host's own
//     addresses to the local port, ARP about the sending side (gratuitous ARP) and
//     everything else to the local port and every other tunnel. OpenFlow never outputs a frame to the port it came in on, so a
//     frame is never sent back the way it came.
//
// A frame therefore follows tree paths only, and never turns back: on the tunnels
// whose two ends agree on the tree (see treeKey: they form a forest) it can
// neither loop nor be duplicated.
func treeFlowTable(slice netip.Prefix, gw netip.Addr, tunnels []Tunnel, routes []treeRoute) []Flow {
	flows := make([]Flow, 0, 14*len(routes)+3*len(tunnels)+16)
	drop := []string{ActionDrop}
	toLocal, toTunnel := []string{Resubmit(TableFromLocal)}, []string{Resubmit(TableFromTunnel)}
	own := [2]string{slice.String(), gw.String()}
	for _, src := range own {
		flows = append(flows,
			Flow{Table: TableClassify, Priority: 100, InPort: PortLocal, Proto: "ip", NwSrc: src, Actions: toLocal},
			Flow{Table: TableClassify, Priority: 100, InPort: PortLocal, Proto: "arp", ArpSPA: src, Actions: toLocal})
	}
	flows = append(flows, Flow{Table: TableClassify, Priority: 100, InPort: PortLocal, Proto: "arp", ArpSPA: "0.0.0.0", Actions: toLocal})
	for _, r := range routes {
		for _, src := range r.addrs {
			flows = append(flows,
				Flow{Table: TableClassify, Priority: 100, InPort: r.port, Proto: "ip", NwSrc: src, Actions: toTunnel},
				Flow{Table: TableClassify, Priority: 100, InPort: r.port, Proto: "arp", ArpSPA: src, Actions: toTunnel})
		}
	}
	all := make([]string, 0, len(tunnels)+1)
	for _, t := range tunnels {
		flows = append(flows, Flow{Table: TableClassify, Priority: 100, InPort: t.OFPort, Proto: "arp", ArpSPA: "0.0.0.0", Actions: toTunnel})
		all = append(all, Output(t.OFPort))
	}
	flows = append(flows,
		Flow{Table: TableClassify, Priority: 90, Proto: "ip", Actions: drop},
		Flow{Table: TableClassify, Priority: 90, Proto: "arp", Actions: drop},
		// Non-IPv4 frames (IPv6, LLDP...) carry no IPv4 source to check.
		Flow{Table: TableClassify, Priority: 80, InPort: PortLocal, Actions: toLocal})
	for _, t := range tunnels {
		flows = append(flows, Flow{Table: TableClassify, Priority: 80, InPort: t.OFPort, Actions: toTunnel})
	}
	flows = append(flows, Flow{Table: TableClassify, Priority: 1, Actions: drop})

	steer := func(table int) {
		for _, r := range routes {
			for _, dst := range r.addrs {
				flows = append(flows,
					Flow{Table: table, Priority: 100, Proto: "arp", ArpTPA: dst, Actions: r.out},
					Flow{Table: table, Priority: 100, Proto: "ip", DlDst: Unicast, NwDst: dst, Actions: r.out})
			}
		}
		// Unicast IPv4 that no host of the tree owns goes nowhere.
		flows = append(flows, Flow{Table: table, Priority: 50, Proto: "ip", DlDst: Unicast, Actions: drop})
	}
	steer(TableFromLocal)
	flood := all
	if len(flood) == 0 {
		flood = drop
	}
	flows = append(flows, Flow{Table: TableFromLocal, Priority: 1, Actions: flood})
	local := []string{ActionLocal}
	for _, dst := range own {
		flows = append(flows,
			Flow{Table: TableFromTunnel, Priority: 100, Proto: "arp", ArpTPA: dst, Actions: local},
			Flow{Table: TableFromTunnel, Priority: 100, Proto: "ip", DlDst: Unicast, NwDst: dst, Actions: local})
	}
	steer(TableFromTunnel)
	onward := append([]string{ActionLocal}, all...)
	for _, r := range routes {
		// An ARP for an address of the side a frame comes from is the sender's
		// own announcement (gratuitous ARP, sent after a container restarted with
		// a new MAC): it floods on like a broadcast instead of turning back.
		for _, dst := range r.addrs {
			flows = append(flows, Flow{Table: TableFromTunnel, Priority: 110, InPort: r.port, Proto: "arp", ArpTPA: dst, Actions: onward})
		}
	}
	return append(flows, Flow{Table: TableFromTunnel, Priority: 1, Actions: onward})
}
