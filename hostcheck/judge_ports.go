package hostcheck

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
)

// PortPlan is what the topology's tunnels need of the host's ports and
// protocols.
type PortPlan struct {
	Encap string     // "vxlan" or "gre"
	Port  int        // the VXLAN UDP port (vxlan only)
	Local netip.Addr // this host's underlay address
	Peers []netip.Addr
}

// KernelLink is one kernel tunnel device (vxlan, gre, gretap, ip6gre,
// ip6gretap).
type KernelLink struct {
	Name, Kind    string
	Up            bool
	VXLANPort     int        // vxlan: its UDP destination port
	Local, Remote netip.Addr // gre: invalid when any
	// OVS: the device is a port of Open vSwitch's kernel datapath (ovs-system),
	// e.g. vxlan_sys_4789: ovs-vswitchd made it.
	OVS bool
}

// UDPSocket is one UDP socket bound to the planned port.
type UDPSocket struct {
	Local netip.AddrPort
	Inode uint64
	PID   int    // 0: no process of this PID namespace holds it
	Comm  string // the holder's command name
}

// PortFacts is what probing the host's tunnel devices, sockets and OVSDB found.
type PortFacts struct {
	Links   []KernelLink
	Sockets []UDPSocket // only those on the planned port
	OVSDB   OVSDBFacts
}

// JudgePorts reports every device, socket or foreign OVS tunnel port that
// would take the tunnels' traffic, or one ok item.
func JudgePorts(p PortPlan, f PortFacts) []Item {
	var items []Item
	subject := "gre"
	if p.Encap == "vxlan" {
		subject = "vxlan udp/" + strconv.Itoa(p.Port)
		items = append(items, judgeVXLANLinks(p, f.Links)...)
		items = append(items, judgeSockets(p, f)...)
	} else {
		items = append(items, judgeGRELinks(p, f.Links)...)
	}
	items = append(items, judgeForeignPorts(p, f.OVSDB)...)
	if len(items) == 0 {
		what := fmt.Sprintf("no kernel vxlan device, UDP socket or foreign OVS tunnel port uses UDP port %d", p.Port)
		if p.Encap != "vxlan" {
			what = "no kernel GRE device or foreign OVS GRE port takes GRE from the peers"
		}
		items = append(items, Item{Check: "port", Subject: subject, Status: OK, Detail: what})
	}
	return items
}

func judgeVXLANLinks(p PortPlan, links []KernelLink) []Item {
	var items []Item
	for _, l := range links {
		if l.Kind != "vxlan" || l.OVS || l.VXLANPort != p.Port {
			continue
		}
		items = append(items, Item{Check: "port", Subject: "vxlan device " + l.Name, Status: Problem,
			Detail: fmt.Sprintf("a kernel vxlan device already uses UDP port %d: it would receive the tunnels' packets", p.Port),
			Fix: fmt.Sprintf("delete it (ip link del %s) or stop what made it (flannel, Docker swarm), or set network.vxlan_port to a free port",
				l.Name)})
	}
	return items
}

func judgeSockets(p PortPlan, f PortFacts) []Item {
	deviceOnPort := slices.ContainsFunc(f.Links, func(l KernelLink) bool { return l.Kind == "vxlan" && l.VXLANPort == p.Port })
	var items []Item
	unowned := false
	for _, s := range f.Sockets {
		switch {
		case s.Comm == "ovs-vswitchd":
			continue // its own socket for userspace tunnel ports
		case s.PID == 0 && (deviceOnPort || unowned):
			continue // a vxlan device's kernel socket (reported with its device), or said once
		case s.PID == 0:
			unowned = true
			items = append(items, Item{Check: "port", Subject: fmt.Sprintf("udp socket %s", s.Local), Status: Problem,
				Detail: fmt.Sprintf("a socket no process here holds is bound to UDP port %d: a kernel vxlan device in another namespace (Docker swarm's overlay networks) or a process in another PID namespace", p.Port),
				Fix:    "find its owner (docker network ls; ip -all netns exec ip -d link show type vxlan), or set network.vxlan_port to a free port"})
		default:
			items = append(items, Item{Check: "port", Subject: fmt.Sprintf("udp socket %s", s.Local), Status: Problem,
				Detail: fmt.Sprintf("%s (pid %d) is bound to UDP port %d", s.Comm, s.PID, p.Port),
				Fix:    fmt.Sprintf("stop %s or move it to another port, or set network.vxlan_port to a free port", s.Comm)})
		}
	}
	return items
}

// greFallback are the devices the kernel makes when its GRE modules load: they
// receive only what no other tunnel (Open vSwitch's included) takes.
var greFallback = []string{"gre0", "gretap0", "erspan0", "ip6gre0", "ip6gretap0", "ip6erspan0"}

func judgeGRELinks(p PortPlan, links []KernelLink) []Item {
	var items []Item
	for _, l := range links {
		switch l.Kind {
		case "gre", "gretap", "ip6gre", "ip6gretap":
		default:
			continue
		}
		if l.OVS || !l.Up || slices.Contains(greFallback, l.Name) {
			continue
		}
		if l.Local.IsValid() && l.Local != p.Local || l.Remote.IsValid() && !slices.Contains(p.Peers, l.Remote) {
			continue // other addresses: the kernel tells the traffic apart
		}
		from := "any address"
		if l.Remote.IsValid() {
			from = l.Remote.String()
		}
		items = append(items, Item{Check: "port", Subject: fmt.Sprintf("%s device %s", l.Kind, l.Name), Status: Problem,
			Detail: fmt.Sprintf("a kernel GRE device takes GRE from %s to this host: it would receive the tunnels' packets", from),
			Fix:    fmt.Sprintf("delete it (ip link del %s), or give it addresses that no tunnel of the mesh uses", l.Name)})
	}
	return items
}

func judgeForeignPorts(p PortPlan, db OVSDBFacts) []Item {
	var items []Item
	for _, b := range db.Bridges {
		for _, i := range b.Ifaces {
			if i.Owned || !sameTraffic(p, i) {
				continue
			}
			it := Item{Check: "port", Subject: fmt.Sprintf("ovs port %s on %s", i.Name, b.Name), Status: Problem,
				Fix: fmt.Sprintf("delete it (ovs-vsctl del-port %s %s) if nothing needs it, or point it at addresses no tunnel of the mesh uses", b.Name, i.Port)}
			remote := i.Options["remote_ip"]
			if rip, err := netip.ParseAddr(remote); remote == "flow" || err == nil && slices.Contains(p.Peers, rip) {
				it.Detail = fmt.Sprintf("a %s tunnel port that is not ovsmesh's, to %s: it would take the tunnels' traffic", i.Type, remote)
			} else if p.Encap == "vxlan" {
				it.Status = Warning
				it.Detail = fmt.Sprintf("a vxlan tunnel port that is not ovsmesh's shares UDP port %d (to %s): Open vSwitch tells them apart by remote_ip, so this only breaks if a peer moves to %s",
					p.Port, remote, remote)
				it.Fix = "none needed; to be sure, move one of them to another port"
			} else {
				continue
			}
			items = append(items, it)
		}
	}
	return items
}

// sameTraffic reports whether an OVS interface is a tunnel of the plan's kind:
// vxlan on the same UDP port, or GRE.
func sameTraffic(p PortPlan, i OVSIface) bool {
	if p.Encap == "vxlan" {
		port := 4789
		if s, ok := i.Options["dst_port"]; ok {
			port, _ = strconv.Atoi(s)
		}
		return i.Type == "vxlan" && port == p.Port
	}
	return i.Type == "gre" || i.Type == "ip6gre"
}
