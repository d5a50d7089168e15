package topology

import "net/netip"

// flowTable computes the whole OpenFlow table of one host (docs/flow-table.md), ordered
// by table and then by decreasing priority; hosts is the number of hosts in the
// cluster. docs/flow-table.md describes it table by table.
//
// In every mode, table 0 drops what no container and no peer may send (VLAN-tagged
// frames, group source MACs, IPv6 router advertisements, redirects and fragments)
// and IPv4 and ARP from the host's own containers whose source is neither in the
// host's slice nor its docker0 address (ARP probes from 0.0.0.0 pass). Every frame
// it lets through then has its source MAC checked (tables 3 to 6): a MAC belongs
// to the port it was first seen on until it has been silent for MACIdleTimeout
// seconds, and a frame carrying it from another port is dropped, so that no
// container can take another's MAC, here or on another host.
//
// stp and tree then hand everything to NORMAL (learning switch; STP or the tree
// prevents loops), except unicast to the host's own addresses and ARP for its
// docker0 address, which stay on the host. mesh replaces NORMAL with a loop-free
// table: frames from a tunnel must also carry that peer's IPv4 source and go to
// table 2, which delivers them locally only (split horizon); frames from the local
// side go to table 1, which steers ARP and unicast IPv4 for a peer's addresses
// into that peer's tunnel, other unicast to the tunnel its MAC was learned on (or
// nowhere), and floods broadcast and multicast into every tunnel.
//
// Flows share their Actions slices: treat the result as read-only.
func flowTable(mode string, slice netip.Prefix, gw netip.Addr, tunnels []Tunnel, hosts int) []Flow {
	if mode != ModeMesh {
		return normalTable(slice, gw, hosts)
	}
	return meshTable(slice, gw, tunnels)
}

// ingress is one port's classification input: the IPv4 sources allowed on it and
// the size of the slice its MACs come from.
type ingress struct {
	port    int
	allowed [2]string
	macs    int
}

// sliceSize is the number of addresses of a slice: at most that many containers,
// hence MACs, live behind one host's port.
func sliceSize(p netip.Prefix) int { return 1 << (p.Addr().BitLen() - p.Bits()) }

var drop = []string{ActionDrop}

// guards are table 0's first flows, for every port: what no container and no
// peer may send.
func guards(flows []Flow) []Flow {
	return append(flows,
		// OVS parses one VLAN tag: a second one would hide the frame's IPv4
		// header from every check. Containers on Docker's bridge send no tags.
		Flow{Table: TableClassify, Priority: 120, VLANTCI: Tagged, Actions: drop},
		Flow{Table: TableClassify, Priority: 120, DlSrc: Multicast, Actions: drop},
		// Router advertisements and redirects would reconfigure other hosts'
		// containers; fragments could hide them (and carry nothing ovsmesh plans).
		Flow{Table: TableClassify, Priority: 110, Proto: "icmp6", ICMPType: "134", Actions: drop},
		Flow{Table: TableClassify, Priority: 110, Proto: "icmp6", ICMPType: "137", Actions: drop},
		Flow{Table: TableClassify, Priority: 110, Proto: "ipv6", NwFrag: "yes", Actions: drop})
}

// sourceChecks lets through the port's IPv4 and ARP frames from its allowed
// sources (and ARP probes) into the MAC check.
func sourceChecks(flows []Flow, p ingress) []Flow {
	for _, src := range p.allowed {
		flows = append(flows,
			Flow{Table: TableClassify, Priority: 100, InPort: p.port, Proto: "ip", NwSrc: src, Actions: checkMAC},
			Flow{Table: TableClassify, Priority: 100, InPort: p.port, Proto: "arp", ArpSPA: src, Actions: checkMAC})
	}
	return append(flows, Flow{Table: TableClassify, Priority: 100, InPort: p.port, Proto: "arp", ArpSPA: "0.0.0.0", Actions: checkMAC})
}

// learnedFlows is table 6: a frame whose MAC was just learned continues by origin;
// one whose port's quota is full goes nowhere.
func learnedFlows(flows []Flow) []Flow {
	return append(flows,
		Flow{Table: TableMACLearned, Priority: 100, InPort: PortLocal, Reg5: Learned, Actions: []string{Resubmit(TableFromLocal)}},
		Flow{Table: TableMACLearned, Priority: 90, Reg5: Learned, Actions: []string{Resubmit(TableFromTunnel)}},
		Flow{Table: TableMACLearned, Priority: 1, Actions: drop})
}

// meshTable is the table of a full mesh without STP (see flowTable).
func meshTable(slice netip.Prefix, gw netip.Addr, tunnels []Tunnel) []Flow {
	// Allocate the table before building the ports. For a 10,000-host mesh it is
	// 120,000 flows, 20 MB: an allocation that usually starts a garbage collection,
	// which must stop this goroutine once to scan its stack. It can do that at any
	// call in the ports loop. The loops that fill the table call nothing, and while a
	// collection's write barriers are on they spend most of their time in barrier
	// sequences, where Go cannot preempt them: the collector would spin until they end.
	flows := make([]Flow, 0, 14*len(tunnels)+40) // see TestFlowCount
	outputs := make([]string, len(tunnels))      // per tunnel: its output action
	for i, t := range tunnels {
		outputs[i] = Output(t.OFPort)
	}
	return meshFlows(flows, slice, gw, tunnels, outputs, 1, macsMesh)
}

// meshFlows appends tables 0 to 6 of a mesh to flows. sends holds, for each
// tunnel in turn, the width actions that send a frame to its peer; all of them
// together flood. m is the MAC table's actions.
func meshFlows(flows []Flow, slice netip.Prefix, gw netip.Addr, tunnels []Tunnel, sends []string, width int, m macActions) []Flow {
	ports := make([]ingress, 1, 1+len(tunnels)) // LOCAL and every tunnel
	ports[0] = ingress{port: PortLocal, allowed: [2]string{slice.String(), gw.String()}, macs: sliceSize(slice)}
	for _, t := range tunnels {
		ports = append(ports, ingress{port: t.OFPort, allowed: [2]string{t.PeerSlice.String(), t.PeerGW.String()}, macs: sliceSize(t.PeerSlice)})
	}
	flows = guards(flows)
	for _, p := range ports {
		flows = sourceChecks(flows, p)
	}
	// Every port is checked (and a foreign port's frames are dropped anyway), so
	// one pair of drops serves them all.
	flows = append(flows,
		Flow{Table: TableClassify, Priority: 90, Proto: "ip", Actions: drop},
		Flow{Table: TableClassify, Priority: 90, Proto: "arp", Actions: drop})
	for _, p := range ports {
		// Other frames (IPv6, LLDP...) carry no IPv4 source: their MAC is checked.
		flows = append(flows, Flow{Table: TableClassify, Priority: 80, InPort: p.port, Actions: checkMAC})
	}
	// Anything from a port ovsmesh does not manage goes nowhere: in a full mesh
	// without STP, NORMAL on an unknown port could loop frames between tunnels.
	flows = append(flows, Flow{Table: TableClassify, Priority: 1, Actions: drop})
	flows = meshSteering(flows, gw, ports[1:], sends, width, m)
	flows = append(flows,
		Flow{Table: TableFromTunnel, Priority: 1, Actions: []string{ActionLocal}},
		Flow{Table: TableMACLookup, Priority: 1, Actions: m.lookupSrc})
	return meshMACCheck(flows, ports, m)
}

// meshSteering is table 1 of a mesh: where a frame from the host's containers goes.
func meshSteering(flows []Flow, gw netip.Addr, peers []ingress, sends []string, width int, m macActions) []Flow {
	for i, p := range peers {
		out := sends[i*width : (i+1)*width : (i+1)*width] // the peer's own actions, sliced from the flood's
		for _, dst := range p.allowed {
			flows = append(flows,
				Flow{Table: TableFromLocal, Priority: 100, Proto: "arp", ArpTPA: dst, Actions: out},
				Flow{Table: TableFromLocal, Priority: 100, Proto: "ip", DlDst: Unicast, NwDst: dst, Actions: out})
		}
	}
	all := sends // flood: every tunnel
	if len(all) == 0 {
		all = drop
	}
	return fromLocalRest(flows, gw, all, m)
}

// fromLocalRest is the end of table 1 in mesh and tree mode, after the flows that
// steer into the tunnel toward each host: flood is every tunnel (or drop).
func fromLocalRest(flows []Flow, gw netip.Addr, flood []string, m macActions) []Flow {
	g := gw.String()
	return append(flows,
		// The host's own gratuitous ARP reaches every peer; ARP for its docker0
		// address is answered here and goes nowhere else.
		Flow{Table: TableFromLocal, Priority: 90, Proto: "arp", ArpSPA: g, ArpTPA: g, Actions: flood},
		Flow{Table: TableFromLocal, Priority: 80, Proto: "arp", ArpTPA: g, Actions: drop},
		// Unicast IPv4 and ARP that no peer's address matched: nobody else holds it.
		Flow{Table: TableFromLocal, Priority: 70, Proto: "ip", DlDst: Unicast, Actions: drop},
		Flow{Table: TableFromLocal, Priority: 70, Proto: "arp", DlDst: Unicast, Actions: drop},
		// Other unicast goes where its MAC was learned, or nowhere.
		Flow{Table: TableFromLocal, Priority: 60, DlDst: Unicast, Actions: m.lookupDst},
		Flow{Table: TableFromLocal, Priority: 1, Actions: flood})
}

// meshMACCheck is tables 3, 5 and 6 of a mesh: a MAC belongs to the one port it was
// first seen on, the local port or one tunnel.
func meshMACCheck(flows []Flow, ports []ingress, m macActions) []Flow {
	fromLocal, fromTunnel := []string{Resubmit(TableFromLocal)}, []string{Resubmit(TableFromTunnel)}
	for _, p := range ports {
		next := fromTunnel
		if p.port == PortLocal {
			next = fromLocal
		}
		flows = append(flows, Flow{Table: TableMACCheck, Priority: 100, InPort: p.port, Reg4: regValue(ofPort16(p.port)), Actions: next})
	}
	for _, p := range ports {
		if p.port == PortLocal {
			flows = append(flows, m.unknown(p.port, 90, p.macs))
			continue
		}
		// From a tunnel, only a frame whose IPv4 or ARP source table 0 tied to
		// the peer proves where a MAC lives. Another frame (IPv6, ...) may have
		// been relayed by a peer that still runs stp during a change of mode: it
		// passes with an unknown MAC, but teaches nothing (it would pin the MAC to
		// the relaying peer's tunnel, and drop the direct frames for five minutes).
		learnIt := m.unknown(p.port, 90, p.macs)
		learnIP, learnARP := learnIt, learnIt
		learnIP.Proto, learnARP.Proto = "ip", "arp"
		flows = append(flows, learnIP, learnARP,
			Flow{Table: TableMACCheck, Priority: 85, InPort: p.port, Reg4: "0", Actions: fromTunnel})
	}
	flows = append(flows, Flow{Table: TableMACCheck, Priority: 1, Actions: drop})
	return learnedFlows(flows)
}

// normalTable is the table of stp and tree mode (see flowTable): tunnels and
// foreign ports relay frames of any IPv4 source, and a MAC learned on one of them
// may move to another (STP reroutes), but never to or from the local port.
func normalTable(slice netip.Prefix, gw netip.Addr, hosts int) []Flow {
	local := ingress{port: PortLocal, allowed: [2]string{slice.String(), gw.String()}, macs: sliceSize(slice)}
	flows := guards(make([]Flow, 0, 32))
	flows = sourceChecks(flows, local)
	normal := []string{ActionNormal}
	g := gw.String()
	flows = append(flows,
		Flow{Table: TableClassify, Priority: 90, InPort: PortLocal, Proto: "ip", Actions: drop},
		Flow{Table: TableClassify, Priority: 90, InPort: PortLocal, Proto: "arp", Actions: drop},
		Flow{Table: TableClassify, Priority: 1, Actions: checkMAC},
		Flow{Table: TableFromLocal, Priority: 90, Proto: "arp", ArpSPA: g, ArpTPA: g, Actions: normal},
		Flow{Table: TableFromLocal, Priority: 80, Proto: "arp", ArpTPA: g, Actions: drop},
		Flow{Table: TableFromLocal, Priority: 70, Proto: "ip", DlDst: Unicast, NwDst: slice.String(), Actions: drop},
		Flow{Table: TableFromLocal, Priority: 70, Proto: "ip", DlDst: Unicast, NwDst: g, Actions: drop},
		Flow{Table: TableFromLocal, Priority: 1, Actions: normal},
		Flow{Table: TableFromTunnel, Priority: 1, Actions: normal},
		Flow{Table: TableMACLookup, Priority: 1, Actions: macsSTP.lookupSrc},
		Flow{Table: TableMACCheck, Priority: 100, InPort: PortLocal, Reg4: regValue(ofppLocal), Actions: []string{Resubmit(TableFromLocal)}},
		macsSTP.unknown(PortLocal, 90, local.macs),
		Flow{Table: TableMACCheck, Priority: 80, InPort: PortLocal, Actions: drop},
		Flow{Table: TableMACCheck, Priority: 70, Reg4: regValue(ofppLocal), Actions: drop},
		// Every other host's containers may sit behind any non-local port.
		macsSTP.unknown(0, 60, local.macs*max(hosts-1, 1)),
		Flow{Table: TableMACCheck, Priority: 1, Actions: []string{Resubmit(TableFromTunnel)}})
	return learnedFlows(flows)
}
