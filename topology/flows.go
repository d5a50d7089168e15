package topology

import (
	"net/netip"
	"strconv"
	"strings"
)

// Flow tables of the ovsmesh pipeline.
const (
	TableClassify   = 0 // anti-spoofing; then mesh: resubmit by origin, stp/tree: NORMAL
	TableFromLocal  = 1 // mesh: frames from the host's containers, steered into tunnels
	TableFromTunnel = 2 // mesh: frames from a peer, delivered locally only (split horizon)
)

// PortLocal is Flow.InPort for the bridge's internal (LOCAL) port; 0 means any port.
const PortLocal = -1

// Actions as ovs-ofctl writes them. Output and Resubmit build the others.
const (
	ActionDrop   = "drop"
	ActionNormal = "NORMAL"
	ActionLocal  = "LOCAL"
)

// Unicast matches a destination MAC address that is neither broadcast nor multicast.
const Unicast = "00:00:00:00:00:00/01:00:00:00:00:00"

// Output is the action that sends a frame out of OpenFlow port p.
func Output(p int) string { return "output:" + strconv.Itoa(p) }

// Resubmit is the action that continues in table t.
func Resubmit(t int) string { return "resubmit(," + strconv.Itoa(t) + ")" }

// Flow is one OpenFlow flow of the desired table. Empty fields match anything. The
// cookie is always FlowCookie and is not part of the value.
type Flow struct {
	Table    int      `json:"table"`
	Priority int      `json:"priority"`
	InPort   int      `json:"in_port,omitempty"` // OpenFlow port, PortLocal, or 0 for any
	Proto    string   `json:"proto,omitempty"`   // "ip", "arp" or ""
	DlDst    string   `json:"dl_dst,omitempty"`
	NwSrc    string   `json:"nw_src,omitempty"`
	NwDst    string   `json:"nw_dst,omitempty"`
	ArpSPA   string   `json:"arp_spa,omitempty"`
	ArpTPA   string   `json:"arp_tpa,omitempty"`
	Actions  []string `json:"actions"`
}

// Match returns the flow's match in ovs-ofctl syntax, without table and priority,
// fields in the order ovs-ofctl dump-flows prints them.
func (f Flow) Match() string {
	var b strings.Builder
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		if v != "" {
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	if f.Proto != "" {
		add(f.Proto, "")
	}
	switch {
	case f.InPort == PortLocal:
		add("in_port", "LOCAL")
	case f.InPort != 0:
		add("in_port", strconv.Itoa(f.InPort))
	}
	if f.DlDst != "" {
		add("dl_dst", f.DlDst)
	}
	if f.NwSrc != "" {
		add("nw_src", f.NwSrc)
	}
	if f.NwDst != "" {
		add("nw_dst", f.NwDst)
	}
	if f.ArpSPA != "" {
		add("arp_spa", f.ArpSPA)
	}
	if f.ArpTPA != "" {
		add("arp_tpa", f.ArpTPA)
	}
	return b.String()
}

// String returns the flow in ovs-ofctl add-flow syntax (without the cookie).
func (f Flow) String() string {
	s := "table=" + strconv.Itoa(f.Table) + ",priority=" + strconv.Itoa(f.Priority)
	if m := f.Match(); m != "" {
		s += "," + m
	}
	return s + ",actions=" + strings.Join(f.Actions, ",")
}

// Equal reports whether two flows are the same.
func (f Flow) Equal(o Flow) bool {
	return f.Table == o.Table && f.Priority == o.Priority && f.InPort == o.InPort &&
		f.Proto == o.Proto && f.DlDst == o.DlDst && f.NwSrc == o.NwSrc && f.NwDst == o.NwDst &&
		f.ArpSPA == o.ArpSPA && f.ArpTPA == o.ArpTPA && strings.Join(f.Actions, ",") == strings.Join(o.Actions, ",")
}

// ingress is one port's classification input: the IPv4 sources allowed on it and
// where allowed frames continue.
type ingress struct {
	port    int
	allowed [2]string
	pass    []string
}

// flowTable computes the whole OpenFlow table of one host (docs/topology.md, Modes), ordered
// by table and then by decreasing priority.
//
// Every mode drops IPv4 and ARP frames from the host's own containers whose source is
// neither in the host's slice nor its docker0 address (ARP probes from 0.0.0.0 pass).
// stp and tree then hand everything to NORMAL (learning switch; STP or the tree
// prevents loops). mesh replaces NORMAL with a loop-free table: frames from the local
// side go to table 1, which steers ARP and unicast IPv4 for a peer's addresses into
// that peer's tunnel and floods everything else into every tunnel; frames from a
// tunnel must carry that peer's source and go to table 2, which delivers them
// locally only, never into another tunnel (split horizon).
//
// Flows share their Actions slices: treat the result as read-only.
func flowTable(mode string, slice netip.Prefix, gw netip.Addr, tunnels []Tunnel) []Flow {
	mesh := mode == ModeMesh
	nports := 1 // LOCAL, and in a mesh every tunnel
	if mesh {
		nports += len(tunnels)
	}
	// Allocate the table before building the ports. For a 10,000-host mesh it is
	// 100,000 flows, 14 MB: an allocation that usually starts a garbage collection,
	// which must stop this goroutine once to scan its stack. It can do that at any
	// call in the ports loop. The loops that fill the table call nothing, and while a
	// collection's write barriers are on they spend most of their time in barrier
	// sequences, where Go cannot preempt them: the collector would spin until they end.
	flows := make([]Flow, 0, 6*nports+4*len(tunnels)+6)
	drop := []string{ActionDrop}
	ports := make([]ingress, 1, nports)
	ports[0] = ingress{port: PortLocal, allowed: [2]string{slice.String(), gw.String()}, pass: []string{ActionNormal}}
	var outputs []string // per tunnel: its output action
	if mesh {
		ports[0].pass = []string{Resubmit(TableFromLocal)}
		fromTunnel := []string{Resubmit(TableFromTunnel)}
		outputs = make([]string, len(tunnels))
		for i, t := range tunnels {
			ports = append(ports, ingress{port: t.OFPort, allowed: [2]string{t.PeerSlice.String(), t.PeerGW.String()}, pass: fromTunnel})
			outputs[i] = Output(t.OFPort)
		}
	}
	for _, p := range ports {
		for _, src := range p.allowed {
			flows = append(flows,
				Flow{Table: TableClassify, Priority: 100, InPort: p.port, Proto: "ip", NwSrc: src, Actions: p.pass},
				Flow{Table: TableClassify, Priority: 100, InPort: p.port, Proto: "arp", ArpSPA: src, Actions: p.pass})
		}
		flows = append(flows, Flow{Table: TableClassify, Priority: 100, InPort: p.port, Proto: "arp", ArpSPA: "0.0.0.0", Actions: p.pass})
	}
	if !mesh {
		// Tunnels and foreign ports relay frames of any source: only the local
		// port is checked.
		return append(flows,
			Flow{Table: TableClassify, Priority: 90, InPort: PortLocal, Proto: "ip", Actions: drop},
			Flow{Table: TableClassify, Priority: 90, InPort: PortLocal, Proto: "arp", Actions: drop},
			Flow{Table: TableClassify, Priority: 1, Actions: []string{ActionNormal}})
	}
	// In a mesh every port is checked (and a foreign port's frames are dropped
	// anyway), so one pair of drops serves them all.
	flows = append(flows,
		Flow{Table: TableClassify, Priority: 90, Proto: "ip", Actions: drop},
		Flow{Table: TableClassify, Priority: 90, Proto: "arp", Actions: drop})
	for _, p := range ports {
		// Non-IPv4 frames (IPv6, LLDP...) carry no IPv4 source to check.
		flows = append(flows, Flow{Table: TableClassify, Priority: 80, InPort: p.port, Actions: p.pass})
	}
	// Anything from a port ovsmesh does not manage goes nowhere: in a full mesh
	// without STP, NORMAL on an unknown port could loop frames between tunnels.
	flows = append(flows, Flow{Table: TableClassify, Priority: 1, Actions: drop})
	for i, p := range ports[1:] {
		out := outputs[i : i+1 : i+1] // the tunnel's own action, sliced from the flood's
		for _, dst := range p.allowed {
			flows = append(flows,
				Flow{Table: TableFromLocal, Priority: 100, Proto: "arp", ArpTPA: dst, Actions: out},
				Flow{Table: TableFromLocal, Priority: 100, Proto: "ip", DlDst: Unicast, NwDst: dst, Actions: out})
		}
	}
	all := outputs // flood: every tunnel
	if len(all) == 0 {
		all = drop
	}
	return append(flows,
		Flow{Table: TableFromLocal, Priority: 1, Actions: all},
		Flow{Table: TableFromTunnel, Priority: 1, Actions: []string{ActionLocal}})
}
