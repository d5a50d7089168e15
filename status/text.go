package status

import (
	"cmp"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/ovsmesh/ovsmesh/firewall"
	"github.com/ovsmesh/ovsmesh/ovsdb"
	"github.com/ovsmesh/ovsmesh/topology"
)

// WriteText writes the report as `ovsmesh status` prints it.
func (rep *Report) WriteText(w io.Writer) {
	if len(rep.OVS.Bridges) == 0 {
		fmt.Fprintln(w, "no bridge carries ovsmesh's owner mark")
	}
	for _, b := range rep.OVS.Bridges {
		rep.writeBridge(w, b)
	}
	if d := rep.Docker; d != nil {
		if !d.Exists {
			fmt.Fprintf(w, "%s: missing\n", d.Name)
		} else {
			fmt.Fprintf(w, "%s: %s mac=%s mtu=%d up=%v addresses=%v alias=%s; port %s: master=%s mtu=%d up=%v\n",
				d.Name, d.Type, d.MAC, d.MTU, d.Up, d.Addrs, orDash(d.Alias), rep.Port.Name, orDash(rep.Port.Master), rep.Port.MTU, rep.Port.Up)
		}
	}
	writeFirewall(w, rep.Firewall)
	writeIdentity(w, rep.Identity)
	if rep.DockerNet != nil {
		writeDocker(w, rep.DockerNet)
	}
	writeNetworks(w, rep.Networks)
	rep.writeDrift(w)
	if f := rep.Fleet; f != nil {
		rev := fmt.Sprint(f.Revision)
		if f.Revision == 0 {
			rev = "unknown (saved by an older ovsmesh)"
		}
		fmt.Fprintf(w, "fleet %s: view %s at etcd revision %s: hosts %s\n", orDash(f.Cluster), f.View, rev, strings.Join(f.Hosts, ", "))
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}

// writeBridge writes one bridge: its settings, a table of its tunnels, the
// tunnels ovs-vswitchd refused and the ports that are not ovsmesh's.
func (rep *Report) writeBridge(w io.Writer, b ovsdb.BridgeStatus) {
	stp := "off"
	if b.STP {
		stp = "stp"
	} else if b.RSTP {
		stp = "rstp"
	}
	mtu := 0
	var tunnels, foreign []ovsdb.PortStatus
	for _, p := range b.Ports {
		switch {
		case p.Name == b.Name:
			mtu = p.MTU
		case p.Tunnel():
			tunnels = append(tunnels, p)
		case !p.Owned:
			foreign = append(foreign, p)
		}
	}
	fmt.Fprintf(w, "bridge %s  owner=%s datapath=%s fail_mode=%s stp=%s mtu=%d flows=%d  (ovs %s, cfg %d/%d)\n",
		b.Name, b.Owner, orDash(b.DatapathType), orDash(b.FailMode), stp, mtu, rep.Flows[b.Name], orDash(rep.OVS.OVSVersion), rep.OVS.CurCfg, rep.OVS.NextCfg)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TUNNEL\tTYPE\tREMOTE\tOPTIONS\tOFPORT\tLINK\tBFD\tPATH\tSTP\tERROR")
	for _, p := range tunnels {
		fmt.Fprintln(tw, rep.tunnelRow(p))
	}
	tw.Flush()
	for _, p := range tunnels {
		if p.Refused != "" {
			fmt.Fprintf(w, "  tunnel %s refused by ovs-vswitchd: %s\n", p.Name, p.Refused)
		}
	}
	for _, p := range foreign {
		fmt.Fprintf(w, "  foreign port %s (type %s): not ovsmesh's, left alone\n", p.Name, orDash(p.Type))
	}
}

// tunnelRow is one tunnel's row of the bridge's table (tab-separated).
func (rep *Report) tunnelRow(p ovsdb.PortStatus) string {
	var opts []string
	for k, v := range p.Options {
		if k != "remote_ip" {
			opts = append(opts, k+"="+v)
		}
	}
	sort.Strings(opts)
	bfd := "-"
	if s := p.BFDState(); s != nil {
		bfd = orDash(s.State)
	}
	stpState := "-"
	if s := cmp.Or(p.STPState(), p.RSTPState()); s != nil {
		stpState = s.Role + "/" + s.State
	}
	path := "-"
	if tp, ok := rep.Paths[p.Name]; ok {
		path = tp.Path
		if tp.Via != "" {
			path += " via " + tp.Via
		}
		if tp.NoRelay {
			path += " (no relay)"
		}
	}
	return fmt.Sprintf("  %s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s", p.Name, p.Type, p.Options["remote_ip"],
		orDash(strings.Join(opts, ",")), p.OFPort, orDash(p.LinkState), bfd, path, stpState, orDash(p.Error))
}

// writeDrift writes what apply would change, with a topology.
func (rep *Report) writeDrift(w io.Writer) {
	if rep.Matches == nil {
		return
	}
	switch {
	case *rep.Matches:
		fmt.Fprintln(w, "drift: none, the host matches the plan")
	case len(rep.Drift) == 0:
		fmt.Fprintln(w, "drift: nothing for apply to change, but the host does not match the plan (see above)")
	default:
		fmt.Fprintf(w, "drift: %d changes would be made by apply:\n", len(rep.Drift))
		for _, d := range rep.Drift {
			fmt.Fprintf(w, "  %s\n", d)
		}
	}
}

// writeFirewall writes ovsmesh's nftables table: its rules and what they dropped.
func writeFirewall(w io.Writer, rules []firewall.RuleState) {
	if rules == nil {
		fmt.Fprintf(w, "firewall: no table inet %s\n", topology.FirewallTable)
		return
	}
	fmt.Fprintf(w, "firewall: table inet %s, tunnel packets from the containers dropped:\n", topology.FirewallTable)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CHAIN\tRULE\tPACKETS")
	for _, r := range rules {
		fmt.Fprintf(tw, "  %s\t%s\t%d\n", r.Chain, orDash(r.Rule), r.Packets)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
