package openflow

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/digitalocean/go-openvswitch/ovs"

	"github.com/ovsmesh/ovsmesh/topology"
)

// toOVS converts one flow of the desired table into go-openvswitch's form, with
// ovsmesh's cookie. It fails on a protocol or action it does not know, so that a
// flow is never installed with a part silently missing.
func toOVS(f topology.Flow) (*ovs.Flow, error) {
	o := &ovs.Flow{Table: f.Table, Priority: f.Priority, Cookie: topology.FlowCookie}
	switch f.Proto {
	case "":
	case "ip":
		o.Protocol = ovs.ProtocolIPv4
	case "arp":
		o.Protocol = ovs.ProtocolARP
	default:
		return nil, fmt.Errorf("flow %q: unknown protocol %q", f, f.Proto)
	}
	switch {
	case f.InPort == topology.PortLocal:
		o.InPort = ovs.PortLOCAL
	case f.InPort > 0:
		o.InPort = f.InPort
	case f.InPort != 0:
		return nil, fmt.Errorf("flow %q: invalid in_port %d", f, f.InPort)
	}
	// The order is the one ovs-ofctl prints (and Flow.Match writes).
	if f.DlDst != "" {
		o.Matches = append(o.Matches, ovs.DataLinkDestination(f.DlDst))
	}
	if f.NwSrc != "" {
		o.Matches = append(o.Matches, ovs.NetworkSource(f.NwSrc))
	}
	if f.NwDst != "" {
		o.Matches = append(o.Matches, ovs.NetworkDestination(f.NwDst))
	}
	if f.ArpSPA != "" {
		o.Matches = append(o.Matches, ovs.ARPSourceProtocolAddress(f.ArpSPA))
	}
	if f.ArpTPA != "" {
		o.Matches = append(o.Matches, ovs.ARPTargetProtocolAddress(f.ArpTPA))
	}
	for _, s := range f.Actions {
		a, err := toAction(s)
		if err != nil {
			return nil, fmt.Errorf("flow %q: %w", f, err)
		}
		o.Actions = append(o.Actions, a)
	}
	return o, nil
}

// toAction converts one action of topology's vocabulary (topology.Output,
// topology.Resubmit, ActionLocal, ActionNormal, ActionDrop).
func toAction(s string) (ovs.Action, error) {
	switch s {
	case topology.ActionDrop:
		return ovs.Drop(), nil
	case topology.ActionNormal:
		return ovs.Normal(), nil
	case topology.ActionLocal:
		return ovs.Local(), nil
	}
	if p, ok := strings.CutPrefix(s, "output:"); ok {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("action %q: invalid port", s)
		}
		return ovs.Output(n), nil
	}
	if t, ok := strings.CutPrefix(s, "resubmit(,"); ok && strings.HasSuffix(t, ")") {
		n, err := strconv.Atoi(strings.TrimSuffix(t, ")"))
		if err != nil || n <= 0 {
			// resubmit(,0) would need Resubmit(0, 0), which go-openvswitch refuses.
			return nil, fmt.Errorf("action %q: invalid table", s)
		}
		return ovs.Resubmit(0, n), nil
	}
	return nil, fmt.Errorf("unknown action %q", s)
}

// canonical returns a flow's identity (table, priority and match: what OpenFlow
// uses to tell flows apart) and its full text (identity and actions), in one form
// for flows we convert and flows go-openvswitch parsed from ovs-ofctl dump-flows:
//
//	table=1,priority=100,ip,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00,nw_dst=172.17.0.2,actions=output:32770
//
// For every flow topology computes, the text equals topology.Flow.String(). It
// normalizes what ovs-vswitchd rewrites: a /32 IPv4 mask is
// dropped (vswitchd 3.1 prints nw_src=10.1.2.3 for nw_src=10.1.2.3/32), host bits
// under a mask are cleared, an all-ones MAC mask is dropped, and the actions local
// and normal (go-openvswitch's spelling) become LOCAL and NORMAL (ovs-ofctl's).
// Match fields are sorted, since a match is a set.
func canonical(f *ovs.Flow) (id, text string, err error) {
	var fields []string
	for _, m := range f.Matches {
		b, err := m.MarshalText()
		if err != nil {
			return "", "", err
		}
		fields = append(fields, normField(string(b)))
	}
	slices.Sort(fields)
	head := []string{"table=" + strconv.Itoa(f.Table), "priority=" + strconv.Itoa(f.Priority)}
	if f.Protocol != "" {
		head = append(head, string(f.Protocol))
	}
	switch {
	case f.InPort == ovs.PortLOCAL:
		head = append(head, "in_port=LOCAL")
	case f.InPort != 0:
		head = append(head, "in_port="+strconv.Itoa(f.InPort))
	}
	if f.IdleTimeout != 0 {
		head = append(head, "idle_timeout="+strconv.Itoa(f.IdleTimeout))
	}
	id = strings.Join(append(head, fields...), ",")
	var actions []string
	for _, a := range f.Actions {
		b, err := a.MarshalText()
		if err != nil {
			return "", "", err
		}
		actions = append(actions, normAction(string(b)))
	}
	return id, id + ",actions=" + strings.Join(actions, ","), nil
}

// normField normalizes one key=value match field (see canonical).
func normField(kv string) string {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return kv
	}
	switch k {
	case "nw_src", "nw_dst", "arp_spa", "arp_tpa":
		return k + "=" + normIPv4(v)
	case "dl_src", "dl_dst":
		return k + "=" + strings.TrimSuffix(strings.ToLower(v), "/ff:ff:ff:ff:ff:ff")
	}
	return kv
}

// normIPv4 writes an IPv4 address or ADDR/LEN the way ovs-ofctl prints it: a
// bare address for a host, the masked prefix otherwise. (go-openvswitch refuses
// dotted masks, so none reach here.)
func normIPv4(v string) string {
	if p, err := netip.ParsePrefix(v); err == nil && p.Addr().Is4() {
		if p.Bits() == 32 {
			return p.Addr().String()
		}
		return p.Masked().String()
	}
	return v
}

// normAction writes an action the way ovs-ofctl prints it.
func normAction(a string) string {
	switch a {
	case "local", "output:LOCAL":
		return topology.ActionLocal
	case "normal", "output:NORMAL":
		return topology.ActionNormal
	}
	return a
}
