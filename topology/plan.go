package topology

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Encapsulation overheads in bytes (docs/topology.md).
const (
	overheadGRE   = 14 + 20 + 4     // inner Ethernet + outer IPv4 + GRE
	overheadVXLAN = 14 + 20 + 8 + 8 // inner Ethernet + outer IPv4 + UDP + VXLAN
	overheadIPv6  = 20              // an IPv6 outer header is 20 bytes longer
	overheadKey   = 4               // the GRE key field
)

// Overhead is the number of bytes the encapsulation adds to every frame.
func (t *Topology) Overhead() int {
	n := overheadVXLAN
	if t.Network.Encap == EncapGRE {
		n = overheadGRE
		// tree mode keys every tunnel (treeKey), a relaying mesh every packet (KeyFlow)
		// and a host with networks every packet (key=flow: see netflows.go)
		if t.Network.Key != nil || t.Network.Mode == ModeTree || t.Relaying() || len(t.Networks) > 0 {
			n += overheadKey
		}
	}
	if t.ipv6Underlay() {
		n += overheadIPv6
	}
	return n
}

// MaxMTU is the largest overlay MTU that fits the underlay.
func (t *Topology) MaxMTU() int { return t.Network.UnderlayMTU - t.Overhead() }

func (t *Topology) ipv6Underlay() bool {
	return len(t.Hosts) > 0 && t.Hosts[0].Address.Is6() && !t.Hosts[0].Address.Is4In6()
}

// Slots returns the number of host indexes the address plan allows: indexes run
// from 1 to Slots(). Slice 0 holds the docker0 addresses, so it must also have room
// for one address per index.
func (t *Topology) Slots() int {
	n := t.Network
	if !n.Subnet.IsValid() || n.SlicePrefix <= n.Subnet.Bits() || n.SlicePrefix > n.Subnet.Addr().BitLen() {
		return 0
	}
	slices := pow2(n.SlicePrefix - n.Subnet.Bits()) // slice 0 is reserved
	size := pow2(n.Subnet.Addr().BitLen() - n.SlicePrefix)
	return min(slices-1, size-1, MaxIndex)
}

func pow2(e int) int {
	if e >= 31 {
		return 1 << 31
	}
	return 1 << e
}

// Slice returns host index i's fixed-cidr: slice i of the subnet.
func (t *Topology) Slice(i int) netip.Prefix {
	n := t.Network
	return netip.PrefixFrom(addOffset(n.Subnet.Addr(), uint64(i)<<(n.Subnet.Addr().BitLen()-n.SlicePrefix)), n.SlicePrefix)
}

// Gateway returns host index i's docker0 address: the i-th address of slice 0, with
// the subnet's prefix length.
func (t *Topology) Gateway(i int) netip.Prefix {
	return netip.PrefixFrom(addOffset(t.Network.Subnet.Addr(), uint64(i)), t.Network.Subnet.Bits())
}

// addOffset adds off to an IPv4 address (the container subnet is IPv4).
func addOffset(a netip.Addr, off uint64) netip.Addr {
	b := a.As4()
	v := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
	v += off
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Edge is a tunnel between two hosts, A < B by name.
type Edge struct {
	A    string `json:"a"`
	B    string `json:"b"`
	Cost int    `json:"cost"`
}

// Edges returns the tunnels of the cluster, sorted by (A, B): every pair in mesh
// mode, the links (else every pair) in stp mode, the minimum spanning tree of the
// links (else of every pair at cost 1) in tree mode.
func (t *Topology) Edges() []Edge {
	switch t.Network.Mode {
	case ModeTree:
		return t.spanningTree()
	case ModeSTP:
		if t.linksOK {
			return t.linkEdges()
		}
	}
	return t.allPairs()
}

// everyPair reports whether Edges joins every pair of hosts: mesh mode, and stp
// mode without links.
func (t *Topology) everyPair() bool {
	return t.Network.Mode == ModeMesh || (t.Network.Mode == ModeSTP && !t.linksOK)
}

// EdgeCount returns len(t.Edges()) without building the edges of a full mesh
// (N(N-1)/2 of them: 50 million values for 10,000 hosts).
func (t *Topology) EdgeCount() int {
	if t.everyPair() {
		n := len(t.Hosts)
		return n * (n - 1) / 2
	}
	return len(t.Edges())
}

// peer is the host at the other end of one of a host's edges, and the edge's cost.
type peer struct {
	Host
	cost int
}

// peers returns the hosts at the other end of the edges of Edges that touch the
// named host. In a full mesh they are simply all the other hosts: it builds neither
// the N² edges nor an index of the hosts by name.
func (t *Topology) peers(name string) []peer {
	if t.everyPair() {
		peers := make([]peer, 0, len(t.Hosts))
		for _, h := range t.Hosts {
			if h.Name != name {
				peers = append(peers, peer{Host: h, cost: DefaultLinkCost})
			}
		}
		return peers
	}
	byName := make(map[string]Host, len(t.Hosts))
	for _, h := range t.Hosts {
		byName[h.Name] = h
	}
	var peers []peer
	for _, e := range t.Edges() {
		switch name {
		case e.A:
			peers = append(peers, peer{Host: byName[e.B], cost: e.Cost})
		case e.B:
			peers = append(peers, peer{Host: byName[e.A], cost: e.Cost})
		}
	}
	return peers
}

// Candidates returns the candidate edges of stp and tree mode (links, else every
// pair), sorted by (A, B).
func (t *Topology) Candidates() []Edge {
	if t.linksOK && t.Network.Mode != ModeMesh {
		return t.linkEdges()
	}
	return t.allPairs()
}

func (t *Topology) sortedNames() []string {
	names := make([]string, len(t.Hosts))
	for i, h := range t.Hosts {
		names[i] = h.Name
	}
	slices.Sort(names)
	return names
}

func (t *Topology) allPairs() []Edge {
	names := t.sortedNames()
	edges := make([]Edge, 0, len(names)*(len(names)-1)/2)
	for i, a := range names {
		for _, b := range names[i+1:] {
			edges = append(edges, Edge{A: a, B: b, Cost: DefaultLinkCost})
		}
	}
	return edges
}

// linkEdges returns the links as edges, A < B, sorted, duplicates (same pair) merged
// keeping the lowest cost.
func (t *Topology) linkEdges() []Edge {
	edges := make([]Edge, 0, len(t.Links))
	for _, l := range t.Links {
		a, b := l.A, l.B
		if b < a {
			a, b = b, a
		}
		edges = append(edges, Edge{A: a, B: b, Cost: l.Cost})
	}
	slices.SortFunc(edges, func(x, y Edge) int {
		return cmp.Or(cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B), cmp.Compare(x.Cost, y.Cost))
	})
	return slices.CompactFunc(edges, func(x, y Edge) bool { return x.A == y.A && x.B == y.B })
}

// spanningTree is Kruskal's algorithm over the candidate links ordered by (cost,
// A, B), so that every host computes the same tree; without links, a star (see
// star).
func (t *Topology) spanningTree() []Edge {
	if !t.linksOK {
		// Every pair at equal cost: a star around the host of the lowest index.
		// Indexes are stable (never renumbered), so a new host becomes a leaf
		// of the same centre instead of moving the whole tree, as centring on the
		// alphabetically first name would.
		return t.star()
	}
	names := t.sortedNames()
	id := make(map[string]int, len(names))
	for i, n := range names {
		id[n] = i
	}
	uf := newUnionFind(len(names))
	tree := make([]Edge, 0, max(len(names)-1, 0))
	cand := t.linkEdges()
	slices.SortFunc(cand, func(x, y Edge) int {
		return cmp.Or(cmp.Compare(x.Cost, y.Cost), cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B))
	})
	for _, e := range cand {
		if len(tree) == len(names)-1 {
			break
		}
		if uf.union(id[e.A], id[e.B]) {
			tree = append(tree, e)
		}
	}
	slices.SortFunc(tree, func(x, y Edge) int { return cmp.Or(cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B)) })
	return tree
}

// components returns the connected components of the candidate edges, each sorted,
// ordered by their first name.
func (t *Topology) components(edges []Edge) [][]string {
	names := t.sortedNames()
	id := make(map[string]int, len(names))
	for i, n := range names {
		id[n] = i
	}
	uf := newUnionFind(len(names))
	for _, e := range edges {
		ia, oka := id[e.A]
		ib, okb := id[e.B]
		if oka && okb {
			uf.union(ia, ib)
		}
	}
	byRoot := map[int][]string{}
	var order []int
	for i, n := range names {
		r := uf.find(i)
		if _, ok := byRoot[r]; !ok {
			order = append(order, r)
		}
		byRoot[r] = append(byRoot[r], n)
	}
	comps := make([][]string, len(order))
	for i, r := range order {
		comps[i] = byRoot[r]
	}
	return comps
}

type unionFind struct{ parent, rank []int }

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int, n), rank: make([]int, n)}
	for i := range u.parent {
		u.parent[i] = i
	}
	return u
}

func (u *unionFind) find(x int) int {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

// union joins the sets of a and b and reports whether they were apart.
func (u *unionFind) union(a, b int) bool {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return false
	}
	if u.rank[ra] < u.rank[rb] {
		ra, rb = rb, ra
	}
	u.parent[rb] = ra
	if u.rank[ra] == u.rank[rb] {
		u.rank[ra]++
	}
	return true
}

// maxIfName is the longest Linux interface name (IFNAMSIZ - 1).
const maxIfName = 15

// PortName returns the name of the tunnel port to the peer named peer, of index
// index: the encapsulation's prefix and the peer's name ("gre-docker2",
// "vx-docker2") when that fits in a Linux interface name (15 bytes). A longer
// one keeps the prefix and as much of the name as fits before "+" and the
// peer's index ("gre-ip-10-0-5+7"), without a separator at the cut.
//
// No two peers of a topology ever get the same name, whatever their names: a
// host name has no "+" (see isName), so a cut name never equals a whole one,
// and two cut names end in "+" and two different indexes (unique in a
// topology), which no digit of the kept part can blur, since they come after
// the last "+". A name depends on the peer's name and index alone, both stable,
// so it never changes while the peer stays.
func PortName(encap, peer string, index int) string {
	prefix := "vx-"
	if encap == EncapGRE {
		prefix = "gre-"
	}
	if len(prefix)+len(peer) <= maxIfName {
		return prefix + peer
	}
	suffix := "+" + strconv.Itoa(index)
	// A separator left at the cut goes ("gre-ip-10-0+12", not "gre-ip-10-0-+12").
	return prefix + strings.TrimRight(peer[:maxIfName-len(prefix)-len(suffix)], "-_.") + suffix
}

// Host returns the host named name, or an error naming it and listing the known
// hosts.
func (t *Topology) Host(name string) (Host, error) {
	for _, h := range t.Hosts {
		if h.Name == name {
			return h, nil
		}
	}
	return Host{}, fmt.Errorf("host %q is not in %s (known hosts: %s)", name, t.File, strings.Join(t.sortedNames(), ", "))
}

// Desired returns the desired state of the named host. The topology must have been
// defaulted and validated.
func (t *Topology) Desired(name string) (HostState, error) { return t.DesiredWith(name, PathPolicy{}) }

// DesiredWith is Desired with the path policy of a relaying mesh (ignored in
// other modes).
func (t *Topology) DesiredWith(name string, policy PathPolicy) (HostState, error) {
	me, err := t.Host(name)
	if err != nil {
		return HostState{}, err
	}
	n := t.Network
	var key string
	if n.Key != nil {
		key = strconv.FormatUint(uint64(*n.Key), 10)
	}
	var tree []Edge
	var treeKey uint32
	if n.Mode == ModeTree {
		tree = t.Edges()
		treeKey = t.treeKey(tree)
		key = strconv.FormatUint(uint64(treeKey), 10) // see treeKey
	}
	if t.Relaying() || len(t.Networks) > 0 {
		key = KeyFlow // the flows set and match the key: see meshRelayTable
	}
	dstPort := 0
	if n.Encap == EncapVXLAN && n.VXLANPort != DefaultVXLANPort {
		dstPort = n.VXLANPort
	}
	typ, packetType := t.tunnelType()
	peers := t.peers(name)
	tunnels := make([]Tunnel, 0, len(peers))
	for _, p := range peers {
		tu := Tunnel{
			Name: PortName(n.Encap, p.Name, p.Index), Peer: p.Name, PeerIndex: p.Index,
			Type: typ, RemoteIP: p.Address, LocalIP: me.Address, PacketType: packetType,
			Key: key, DstPort: dstPort, BFD: n.BFD, BFDIntervalMS: n.BFDIntervalMS, BFDMult: n.BFDMult,
			OFPort:    TunnelOFPortBase + p.Index,
			PeerSlice: t.Slice(p.Index), PeerGW: t.Gateway(p.Index).Addr(),
		}
		if n.Mode == ModeSTP && t.linksOK {
			tu.STPCost = p.cost
		}
		tunnels = append(tunnels, tu)
	}
	if t.Relaying() {
		t.setRelays(me, tunnels)
	}
	slices.SortFunc(tunnels, func(a, b Tunnel) int { return cmp.Compare(a.Name, b.Name) })

	slice, gw := t.Slice(me.Index), t.Gateway(me.Index)
	s := HostState{
		Host: name, Index: me.Index, Address: me.Address, Mode: n.Mode,
		OVS: OVSState{
			Owner: name, Bridge: n.Bridge, Datapath: n.Datapath,
			STP:       n.Mode == ModeSTP && !n.RSTP,
			RSTP:      n.Mode == ModeSTP && n.RSTP,
			Protocols: slices.Clone(OpenFlowProtocols),
			MTU:       n.MTU,
			Tunnels:   tunnels,
		},
		Docker: DockerBridge{
			Name: n.DockerBridge, Owner: name, Address: gw, MTU: n.MTU, Port: n.Bridge,
			FixedCIDR: slice, Subnet: n.Subnet, MAC: t.DockerMAC(me.Index),
		},
		Daemon:   daemonConfig(n.DockerBridge, gw, slice, n.MTU),
		Firewall: firewall(n.DockerBridge, n.Subnet, n.VXLANPort),
	}
	switch n.Mode {
	case ModeMesh:
		s.OVS.FailMode = "secure"
		if t.Relaying() {
			s.Flows = meshRelayTable(slice, gw.Addr(), tunnels, policy)
			break
		}
		s.Flows = flowTable(n.Mode, slice, gw.Addr(), tunnels, len(t.Hosts))
	case ModeTree:
		s.OVS.FailMode = "secure" // the table relays by itself; see treeFlowTable
		s.Flows = treeFlowTable(slice, gw.Addr(), tunnels, t.treeRoutes(name, tree, tunnels))
	default:
		s.Flows = flowTable(n.Mode, slice, gw.Addr(), tunnels, len(t.Hosts))
	}
	if len(t.Networks) > 0 {
		k0 := docker0Key(n.Mode, t.Relaying(), n.Key, treeKey)
		s.Networks = t.networkStates(me, k0)
		s.OVS.Internal = internalPorts(s.Networks)
		s.Firewall = networkFirewall(s.Firewall, s.Networks, n.VXLANPort)
		s.Flows = t.networkTable(s.Flows, me, s.Networks, k0, tunnels, tree, policy)
	}
	return s, nil
}

// tunnelType returns the OVS interface type of the tunnels and their
// options:packet_type. GRE over an IPv6 underlay on the kernel datapath is a
// separate type, ip6gre, that carries bare L3 packets unless told legacy_l2 (the
// Ethernet frames a bridge needs). OVS 3.1's userspace datapath builds GRE over
// IPv6 from plain "gre" with an IPv6 remote_ip, so netdev keeps that form.
func (t *Topology) tunnelType() (typ, packetType string) {
	n := t.Network
	if n.Encap == EncapGRE && n.Datapath == DatapathSystem && t.ipv6Underlay() {
		return "ip6gre", "legacy_l2"
	}
	return n.Encap, ""
}

// DockerMAC returns the pinned Ethernet address of host i's Docker bridge:
// 02:42 followed by the four bytes of the bridge's IPv4 address (Gateway(i)), as
// Docker derived addresses from IPv4 addresses. 02 makes it a locally administered
// unicast address. Within one cluster the gateway addresses differ by index, so
// the MACs differ; clusters with other subnets get other MACs. No container has
// such an address: containers are addressed from the hosts' slices, never from
// slice 0, which holds the bridges' addresses.
func (t *Topology) DockerMAC(i int) string {
	b := t.Gateway(i).Addr().As4()
	return fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}

func itoa(i int) string { return strconv.Itoa(i) }

// daemonConfig is what daemon.json must say. For Docker's default bridge it is
// "bip", not "bridge": Docker keeps the network it stored at its last start, and
// with "bridge" a Docker restart put that network's gateway (another host's,
// Docker's default 172.17.0.1) back on docker0; with "bip" it holds to the
// planned address, and a Docker that starts before ovsmesh built docker0 builds it
// with that address itself. "bip" applies to docker0 only: another bridge is named
// with "bridge" (measured with Docker 20.10: its address survives restarts).
func daemonConfig(bridge string, gw, slice netip.Prefix, mtu int) DaemonConfig {
	d := DaemonConfig{FixedCIDR: slice.String(), MTU: mtu}
	if bridge == DefaultDockerBridge {
		d.BIP = gw.String()
	} else {
		d.Bridge = bridge
	}
	return d
}
