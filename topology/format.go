package topology

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes a host's plan for people: the cluster in one line, the bridge,
// docker0, every tunnel and the flow table.
func (t *Topology) WriteText(w io.Writer, s HostState) error {
	n := t.Network
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "host %s (index %d) in a %d-host %s %s, %d tunnels\n", s.Host, s.Index, len(t.Hosts), n.Encap, n.Mode, len(s.OVS.Tunnels))
	var opts []string
	if s.OVS.STP {
		opts = append(opts, "stp_enable=true")
	}
	if s.OVS.RSTP {
		opts = append(opts, "rstp_enable=true")
	}
	if s.OVS.FailMode != "" {
		opts = append(opts, "fail_mode="+s.OVS.FailMode)
	}
	opts = append([]string{"datapath=" + s.OVS.Datapath, "mtu=" + itoa(s.OVS.MTU)}, opts...)
	fmt.Fprintf(tw, "bridge\t%s\t%s\n", s.OVS.Bridge, strings.Join(opts, " "))
	fmt.Fprintf(tw, "mtu\t%d\tunderlay %d - %d bytes of %s overhead\n", n.MTU, n.UnderlayMTU, t.Overhead(), n.Encap)
	fmt.Fprintf(tw, "docker0\t%s\taddress=%s mac=%s mtu=%d port=%s\n", s.Docker.Name, s.Docker.Address, s.Docker.MAC, s.Docker.MTU, s.Docker.Port)
	fmt.Fprintf(tw, "fixed-cidr\t%s\tof subnet %s\n", s.Docker.FixedCIDR, s.Docker.Subnet)
	for _, tu := range s.OVS.Tunnels {
		extra := ""
		if tu.Key != "" {
			extra += " key=" + tu.Key
		}
		if tu.DstPort != 0 {
			extra += " dst_port=" + itoa(tu.DstPort)
		}
		if tu.BFD {
			extra += " bfd=" + itoa(tu.BFDIntervalMS) + "msx" + itoa(tu.BFDMult)
		}
		if r := tu.Relays.Names(); len(r) > 0 {
			extra += " relays=" + strings.Join(r, ",")
		}
		if tu.PacketType != "" {
			extra += " packet_type=" + tu.PacketType
		}
		if tu.STPCost != 0 {
			extra += " " + s.OVS.PathCostKey() + "=" + itoa(tu.STPCost)
		}
		fmt.Fprintf(tw, "tunnel\t%s\t%s to %s (%s from %s) ofport=%d peer slice %s, docker0 %s%s\n",
			tu.Name, tu.Type, tu.Peer, tu.RemoteIP, tu.LocalIP, tu.OFPort, tu.PeerSlice, tu.PeerGW, extra)
	}
	for _, nw := range s.Networks {
		fmt.Fprintf(tw, "network\t%s\tbridge=%s port=%s ofport=%d subnet=%s ip-range=%s gateway=%s mtu=%d tunnel-key=%#x\n",
			nw.Name, nw.Bridge, nw.Port, nw.OFPort, nw.Subnet, nw.IPRange, nw.Gateway, nw.MTU, nw.TunnelKey)
	}
	if n.Mode == ModeMesh && len(t.Links) > 0 {
		fmt.Fprintf(tw, "note\tlinks\tignored in mesh mode: every pair of hosts gets a tunnel\n")
	}
	fmt.Fprintf(tw, "flows\t%d\tcookie=%#x\n", len(s.Flows), FlowCookie)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range s.Flows {
		if _, err := fmt.Fprintf(w, "  %s\n", f); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(w, "firewall    table inet %s: no tunnel packet from the containers leaves the host or reaches its tunnel endpoint\n", s.Firewall.Table); err != nil {
		return err
	}
	for _, l := range s.Firewall.Lines() {
		if _, err := fmt.Fprintf(w, "  %s\n", l); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes a host's plan as indented JSON: the HostState value.
func WriteJSON(w io.Writer, s HostState) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// WriteDot writes the whole mesh as a Graphviz graph: one node per host (name,
// underlay address, fixed-cidr), one edge per tunnel. In tree mode the candidate
// links that are not in the tree are drawn dashed and grey; in stp mode the edges
// are the tunnels among which STP blocks some at run time.
func (t *Topology) WriteDot(w io.Writer) error {
	n := t.Network
	var b strings.Builder
	fmt.Fprintf(&b, "graph ovsmesh {\n")
	fmt.Fprintf(&b, "  label=%q;\n", fmt.Sprintf("ovsmesh: %d hosts, %s %s, mtu %d", len(t.Hosts), n.Encap, n.Mode, n.MTU))
	fmt.Fprintf(&b, "  node [shape=box, fontname=\"monospace\"];\n")
	for _, name := range t.sortedNames() {
		h, _ := t.Host(name)
		fmt.Fprintf(&b, "  %q [label=%q];\n", h.Name, fmt.Sprintf("%s\n%s\n%s", h.Name, h.Address, t.Slice(h.Index)))
	}
	edges := t.Edges()
	used := make(map[[2]string]bool, len(edges))
	for _, e := range edges {
		used[[2]string{e.A, e.B}] = true
	}
	style := map[string]string{ModeMesh: "tunnel", ModeSTP: "tunnel (stp)", ModeTree: "tree"}[n.Mode]
	for _, e := range edges {
		attrs := fmt.Sprintf("label=%q, tooltip=%q", costLabel(e), style)
		if n.Mode == ModeTree {
			attrs += ", penwidth=2"
		}
		if n.Mode == ModeSTP {
			attrs += ", color=\"blue\""
		}
		fmt.Fprintf(&b, "  %q -- %q [%s];\n", e.A, e.B, attrs)
	}
	if n.Mode == ModeTree {
		for _, e := range t.Candidates() {
			if !used[[2]string{e.A, e.B}] {
				fmt.Fprintf(&b, "  %q -- %q [label=%q, style=dashed, color=grey, tooltip=\"candidate, not in tree\"];\n", e.A, e.B, costLabel(e))
			}
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func costLabel(e Edge) string { return "cost " + itoa(e.Cost) }
