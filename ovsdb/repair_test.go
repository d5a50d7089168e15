package ovsdb

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
	"github.com/ovsmesh/ovsmesh/topology"
)

// renamed is docker1's state once docker2 (index 2, 198.18.0.2) is named web2.
func renamed() topology.OVSState {
	s := greState(2, 3)
	s.Tunnels[0].Name, s.Tunnels[0].Peer = "gre-web2", "web2"
	return s
}

// vxlanState is greState with VXLAN tunnels ("vx-dockerN", same ofport_request).
func vxlanState(peers ...int) topology.OVSState {
	s := greState(peers...)
	for i := range s.Tunnels {
		s.Tunnels[i].Name = strings.Replace(s.Tunnels[i].Name, "gre-", "vx-", 1)
		s.Tunnels[i].Type = topology.EncapVXLAN
	}
	return s
}

const fileExists = "could not add network device gre-docker2 to ofproto (File exists)"

// refused marks gre-docker2 of d as ovs-vswitchd leaves a port it refused.
func refused(d *fakeDB) *fakeDB {
	return d.editIface("gre-docker2", func(i *vswitchd.Interface) { i.Ofport, i.Error = ptr(-1), ptr(fileExists) })
}

// planText shows what a plan sends in which transaction.
func planText(p plan) string {
	names := func(ds []portDelete) string {
		var n []string
		for _, d := range ds {
			n = append(n, d.Name)
		}
		return strings.Join(n, ",")
	}
	var creates []string
	for _, pp := range p.Ports {
		if pp.Create {
			creates = append(creates, pp.Port.Name)
		}
	}
	return fmt.Sprintf("first: delete [%s]\nthen: create [%s] delete [%s]\nrecreated [%s]\n%s",
		names(p.Clear), strings.Join(creates, ","), names(p.Deletes), strings.Join(p.Recreated, ","), strings.Join(p.Lines, "\n"))
}

func TestDiffClashes(t *testing.T) {
	cases := []struct {
		name      string
		want      topology.OVSState
		have      *fakeDB
		recreated map[string]bool
		plan      string
	}{
		{
			name: "rename at the same address: the old tunnel goes first", want: renamed(), have: converged(greState(2, 3)),
			plan: `first: delete [gre-docker2]
then: create [gre-web2] delete []
recreated []
create port gre-web2 type=gre remote_ip=198.18.0.2 ofport_request=32770
delete port gre-docker2 type=gre remote_ip=198.18.0.2 (no longer in the topology)`,
		},
		{
			name: "encap change: the old ports hold the ofports", want: vxlanState(2, 3), have: converged(greState(2, 3)),
			plan: `first: delete [gre-docker2,gre-docker3]
then: create [vx-docker2,vx-docker3] delete []
recreated []
create port vx-docker2 type=vxlan remote_ip=198.18.0.2 ofport_request=32770
create port vx-docker3 type=vxlan remote_ip=198.18.0.3 ofport_request=32771
delete port gre-docker2 type=gre remote_ip=198.18.0.2 (no longer in the topology)
delete port gre-docker3 type=gre remote_ip=198.18.0.3 (no longer in the topology)`,
		},
		{
			name: "a removed host clashes with nothing: one transaction", want: greState(3, 4), have: converged(greState(2, 3)),
			plan: `first: delete []
then: create [gre-docker4] delete [gre-docker2]
recreated []
create port gre-docker4 type=gre remote_ip=198.18.0.4 ofport_request=32772
delete port gre-docker2 type=gre remote_ip=198.18.0.2 (no longer in the topology)`,
		},
		{
			name: "a refused tunnel is recreated", want: greState(2, 3), have: refused(converged(greState(2, 3))),
			plan: `first: delete [gre-docker2]
then: create [gre-docker2] delete []
recreated [gre-docker2]
recreate port gre-docker2 type=gre remote_ip=198.18.0.2 ofport_request=32770 (ovs-vswitchd reports: ` + fileExists + `)`,
		},
		{
			name: "a tunnel on the wrong ofport is recreated", want: greState(2),
			have: converged(greState(2)).editIface("gre-docker2", func(i *vswitchd.Interface) { i.Ofport = ptr(5) }),
			plan: `first: delete [gre-docker2]
then: create [gre-docker2] delete []
recreated [gre-docker2]
recreate port gre-docker2 type=gre remote_ip=198.18.0.2 ofport_request=32770 (got ofport 5 instead of ofport_request 32770)`,
		},
		{
			name: "not twice in a row", want: greState(2, 3), have: refused(converged(greState(2, 3))),
			recreated: map[string]bool{"gre-docker2": true},
			plan:      "first: delete []\nthen: create [] delete []\nrecreated []\n",
		},
		{
			name: "not when a foreign port on another bridge has the same tunnel", want: greState(2, 3),
			have: refused(converged(greState(2, 3))).addBridge(vswitchd.Bridge{Name: "brx"}).
				addPort("brx", vswitchd.Port{Name: "gre0"}, vswitchd.Interface{Name: "gre0", Type: "gre", Options: map[string]string{"remote_ip": "198.18.0.2"}}),
			plan: "first: delete []\nthen: create [] delete []\nrecreated []\n",
		},
		{
			name: "not when a foreign port holds the ofport", want: greState(2),
			have: converged(greState(2)).editIface("gre-docker2", func(i *vswitchd.Interface) { i.Ofport = ptr(5) }).
				addPort("br0", vswitchd.Port{Name: "eth9"}, vswitchd.Interface{Name: "eth9", Ofport: ptr(32770)}),
			plan: "first: delete []\nthen: create [] delete []\nrecreated []\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := snapshotOf(tc.have.t, "br0")
			s.Recreated = tc.recreated
			checkText(t, "plan", planText(diff(tc.want, s)), tc.plan)
		})
	}
}

// TestRefusalReasons: the errors of a pass name the cause outside ovsmesh, or
// say what the loop does next.
func TestRefusalReasons(t *testing.T) {
	foreign := refused(converged(greState(2))).addBridge(vswitchd.Bridge{Name: "brx"}).
		addPort("brx", vswitchd.Port{Name: "gre0"}, vswitchd.Interface{Name: "gre0", Type: "gre", Options: map[string]string{"remote_ip": "198.18.0.2"}})
	held := converged(greState(2)).editIface("gre-docker2", func(i *vswitchd.Interface) { i.Ofport = ptr(5) }).
		addPort("br0", vswitchd.Port{Name: "eth9"}, vswitchd.Interface{Name: "eth9", Ofport: ptr(32770)})
	const what = `tunnel port "gre-docker2" to 198.18.0.2: `
	cases := []struct {
		name      string
		have      *fakeDB
		recreated bool
		want      string
	}{
		{"foreign tunnel", foreign, false, what + "ovs-vswitchd reports: " + fileExists +
			`: it clashes with interface "gre0" of port "gre0" of bridge "brx", which is not ovsmesh's (same type, remote_ip, local_ip, key and dst_port)`},
		{"foreign ofport", held, false, what + `got ofport 5 instead of ofport_request 32770: ofport 32770 is held by interface "eth9" of port "eth9" of bridge "br0", which is not ovsmesh's`},
		{"no cause seen", refused(converged(greState(2))), false, what + "ovs-vswitchd reports: " + fileExists + " (the next pass recreates it)"},
		{"recreated by this pass", refused(converged(greState(2))), true, what + "ovs-vswitchd reports: " + fileExists +
			" (recreated by this pass; the next pass reports it, the one after recreates it again)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := snapshotOf(tc.have.t, "br0")
			s.Recreated = map[string]bool{"gre-docker2": tc.recreated}
			var got []string
			for _, err := range healthErrors(s, greState(2)) {
				got = append(got, err.Error())
			}
			checkText(t, "errors", strings.Join(got, "\n"), tc.want)
		})
	}
}

// TestRecreateKeepsOperatorKeys: a recreated port keeps the operator's keys of
// the maps ovsmesh reads; a path cost key the plan no longer wants goes.
func TestRecreateKeepsOperatorKeys(t *testing.T) {
	have := refused(converged(greState(2))).
		editPort("gre-docker2", func(p *vswitchd.Port) {
			p.ExternalIDs["team"] = "net"
			p.OtherConfig = map[string]string{"rstp-port-priority": "32", topology.STPCostKey: "10"}
		}).
		editIface("gre-docker2", func(i *vswitchd.Interface) { i.ExternalIDs["iface-id"] = "x" })
	p := diff(greState(2), snapshotOf(have.t, "br0"))
	if len(p.Ports) != 1 || !p.Ports[0].Create {
		t.Fatalf("plan: %s", planText(p))
	}
	pp := p.Ports[0]
	got := fmt.Sprintf("port external_ids %s other_config %s; interface external_ids %s",
		mapText(pp.Port.ExternalIDs), mapText(pp.Port.OtherConfig), mapText(pp.Iface.ExternalIDs))
	checkText(t, "recreated port", got,
		"port external_ids {ovsmesh-owner=docker1,team=net} other_config {rstp-port-priority=32}; interface external_ids {iface-id=x,ovsmesh-owner=docker1}")
}
