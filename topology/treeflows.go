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
// never hands a frame to NORMAL, so the bridge learns no forwarding entry: after a
// re-tree nothing learned can send frames the old way (with NORMAL, transit hosts
// whose own tunnels had not changed kept doing so until the entries aged out).
// Forwarding is computed from the tree instead; docs/flow-table.md has the table.
//
//   - table 0: the guards of every mode; a frame from the local port must carry
//     the host's own IPv4/ARP source, one from the tunnel toward a neighbour the
//     source of a host on that neighbour's side of the tree. Then the MAC check.
//   - tables 3 to 6: a source MAC belongs to the port it arrives on; it may move
//     from one tunnel to another (a re-tree moves hosts behind other tunnels), but
//     never to or from the local port.
//   - table 1 (from local): ARP for, and unicast IPv4 to, a remote host's
//     addresses go into the tunnel toward it; the rest as in a mesh (unicast no
//     host owns and ARP for the own docker0 address stay here, broadcast floods).
//   - table 2 (from a tunnel): the same per remote host (relaying), this host's own
//     addresses to the local port, ARP about the sending side (gratuitous ARP) and
//     everything else to the local port and every other tunnel. OpenFlow never
//     outputs a frame to the port it came in on, so no frame turns back.
//
// A frame therefore follows tree paths only, and never turns back: on the tunnels
// whose two ends agree on the tree (see treeKey: they form a forest) it can
// neither loop nor be duplicated.
func treeFlowTable(slice netip.Prefix, gw netip.Addr, tunnels []Tunnel, routes []treeRoute) []Flow {
	flows := make([]Flow, 0, 14*len(routes)+6*len(tunnels)+40)
	local := ingress{port: PortLocal, allowed: [2]string{slice.String(), gw.String()}, macs: sliceSize(slice)}
	flows = guards(flows)
	flows = sourceChecks(flows, local)
	behind := make(map[int]int, len(tunnels)) // tunnel port → hosts behind it
	for _, r := range routes {
		behind[r.port]++
		for _, src := range r.addrs {
			flows = append(flows,
				Flow{Table: TableClassify, Priority: 100, InPort: r.port, Proto: "ip", NwSrc: src, Actions: checkMAC},
				Flow{Table: TableClassify, Priority: 100, InPort: r.port, Proto: "arp", ArpSPA: src, Actions: checkMAC})
		}
	}
	all := make([]string, 0, len(tunnels))
	for _, t := range tunnels {
		flows = append(flows, Flow{Table: TableClassify, Priority: 100, InPort: t.OFPort, Proto: "arp", ArpSPA: "0.0.0.0", Actions: checkMAC})
		all = append(all, Output(t.OFPort))
	}
	flows = append(flows,
		Flow{Table: TableClassify, Priority: 90, Proto: "ip", Actions: drop},
		Flow{Table: TableClassify, Priority: 90, Proto: "arp", Actions: drop},
		Flow{Table: TableClassify, Priority: 80, InPort: PortLocal, Actions: checkMAC})
	for _, t := range tunnels {
		flows = append(flows, Flow{Table: TableClassify, Priority: 80, InPort: t.OFPort, Actions: checkMAC})
	}
	// Frames from ports ovsmesh does not manage go nowhere.
	flows = append(flows, Flow{Table: TableClassify, Priority: 1, Actions: drop})

	flood := all
	if len(flood) == 0 {
		flood = drop
	}
	flows = treeSteer(flows, TableFromLocal, routes)
	flows = fromLocalRest(flows, gw, flood, macsTree)

	onward := append([]string{ActionLocal}, all...)
	for _, r := range routes {
		// An ARP about the side a frame comes from is the sender's own
		// announcement (gratuitous ARP, after a container restarted with a new
		// MAC): it floods on instead of turning back.
		for _, dst := range r.addrs {
			flows = append(flows, Flow{Table: TableFromTunnel, Priority: 110, InPort: r.port, Proto: "arp", ArpTPA: dst, Actions: onward})
		}
	}
	toLocal := []string{ActionLocal}
	for _, dst := range local.allowed {
		flows = append(flows,
			Flow{Table: TableFromTunnel, Priority: 100, Proto: "arp", ArpTPA: dst, Actions: toLocal},
			Flow{Table: TableFromTunnel, Priority: 100, Proto: "ip", DlDst: Unicast, NwDst: dst, Actions: toLocal})
	}
	flows = treeSteer(flows, TableFromTunnel, routes)
	flows = append(flows,
		Flow{Table: TableFromTunnel, Priority: 70, Proto: "ip", DlDst: Unicast, Actions: drop},
		Flow{Table: TableFromTunnel, Priority: 70, Proto: "arp", DlDst: Unicast, Actions: drop},
		Flow{Table: TableFromTunnel, Priority: 60, DlDst: Unicast, Actions: macsTree.lookupDst},
		Flow{Table: TableFromTunnel, Priority: 1, Actions: onward},
		Flow{Table: TableMACLookup, Priority: 1, Actions: macsTree.lookupSrc})
	return treeMACCheck(flows, local, tunnels, behind)
}

// treeSteer sends ARP for, and unicast IPv4 to, each remote host's addresses
// into the tunnel toward it.
func treeSteer(flows []Flow, table int, routes []treeRoute) []Flow {
	for _, r := range routes {
		for _, dst := range r.addrs {
			flows = append(flows,
				Flow{Table: table, Priority: 100, Proto: "arp", ArpTPA: dst, Actions: r.out},
				Flow{Table: table, Priority: 100, Proto: "ip", DlDst: Unicast, NwDst: dst, Actions: r.out})
		}
	}
	return flows
}

// treeMACCheck is tables 3, 5 and 6 of a tree: a MAC belongs to the port it was
// last seen on among the tunnels, and never moves to or from the local port.
// Each port's quota is the addresses of the slices behind it.
func treeMACCheck(flows []Flow, local ingress, tunnels []Tunnel, behind map[int]int) []Flow {
	fromLocal, fromTunnel := []string{Resubmit(TableFromLocal)}, []string{Resubmit(TableFromTunnel)}
	flows = append(flows, Flow{Table: TableMACCheck, Priority: 100, InPort: PortLocal, Reg4: regValue(ofppLocal), Actions: fromLocal})
	for _, t := range tunnels {
		flows = append(flows, Flow{Table: TableMACCheck, Priority: 100, InPort: t.OFPort, Reg4: regValue(t.OFPort), Actions: fromTunnel})
	}
	flows = append(flows,
		macsTree.unknown(PortLocal, 90, local.macs),
		Flow{Table: TableMACCheck, Priority: 80, InPort: PortLocal, Actions: drop},
		Flow{Table: TableMACCheck, Priority: 70, Reg4: regValue(ofppLocal), Actions: drop})
	for _, t := range tunnels {
		// Unknown, or known behind another tunnel: (re)learn it for this one.
		flows = append(flows, Flow{Table: TableMACCheck, Priority: 60, InPort: t.OFPort,
			Actions: []string{macsTree.learn(t.OFPort, local.macs*max(behind[t.OFPort], 1)), Resubmit(TableMACLearned)}})
	}
	flows = append(flows, Flow{Table: TableMACCheck, Priority: 1, Actions: drop})
	return learnedFlows(flows)
}
