package ovsdb

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
	"github.com/ovsmesh/ovsmesh/topology"
)

// ip6greState is docker1's desired state with GRE over IPv6 on the kernel
// datapath: type ip6gre, packet_type legacy_l2 and local_ip.
func ip6greState() topology.OVSState {
	s := greState(2)
	s.Datapath = topology.DatapathSystem
	tu := &s.Tunnels[0]
	tu.Type, tu.PacketType = "ip6gre", "legacy_l2"
	tu.RemoteIP, tu.LocalIP = netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("2001:db8::1")
	return s
}

// TestDiffTunnelOptions: local_ip and packet_type are tunnel options like the
// others, and a GRE port of the old form becomes ip6gre in place.
func TestDiffTunnelOptions(t *testing.T) {
	p := diff(ip6greState(), snapshotOf(newFakeDB().t, "br0"))
	var create string
	for _, l := range p.Lines {
		if strings.HasPrefix(l, "create port gre-docker2") {
			create = l
		}
	}
	checkText(t, "create", create, "create port gre-docker2 type=ip6gre remote_ip=2001:db8::2 local_ip=2001:db8::1 packet_type=legacy_l2 ofport_request=32770")

	old := converged(greState(2)).
		editBridge("br0", func(b *vswitchd.Bridge) { b.DatapathType = topology.DatapathSystem }).
		editIface("gre-docker2", func(i *vswitchd.Interface) { i.Options["remote_ip"] = "2001:db8::2" })
	p = diff(ip6greState(), snapshotOf(old.t, "br0"))
	checkText(t, "update", strings.Join(p.Lines, "\n"), strings.Join([]string{
		"update interface gre-docker2 options:local_ip (unset) -> 2001:db8::1",
		"update interface gre-docker2 options:packet_type (unset) -> legacy_l2",
		"update interface gre-docker2 type gre -> ip6gre",
	}, "\n"))
	if p := diff(ip6greState(), snapshotOf(converged(ip6greState()).t, "br0")); !p.empty() {
		t.Errorf("converged ip6gre state has changes: %q", p.Lines)
	}
}
