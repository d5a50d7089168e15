package ovsdb

import (
	"errors"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
	"github.com/ovsmesh/ovsmesh/topology"
)

// TestDiff compares desired states with hand-built databases and checks the change
// lines (the plan rendered as text) and the errors.
func TestDiff(t *testing.T) {
	withKey := greState(2, 3)
	withKey.Tunnels[0].Key = "7"
	stp := greState(2, 3)
	stp.FailMode, stp.STP = "", true
	stp.Tunnels[0].STPCost = 10
	bfd := greState(2)
	bfd.Tunnels[0].BFD = true

	cases := []struct {
		name    string
		want    topology.OVSState
		have    *fakeDB
		lines   []string
		wantErr string // whole error text; "" for none
	}{
		{
			name: "create from empty", want: greState(2, 3), have: newFakeDB(),
			lines: []string{
				"create bridge br0 datapath_type=netdev fail_mode=secure protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15 rstp_enable=false stp_enable=false",
				"create port br0 type=internal mtu_request=1462",
				"create port gre-docker2 type=gre remote_ip=198.18.0.2 ofport_request=32770",
				"create port gre-docker3 type=gre remote_ip=198.18.0.3 ofport_request=32771",
			},
		},
		{name: "no-op on equal", want: greState(2, 3), have: converged(greState(2, 3))},
		{name: "no-op with key, stp cost and bfd", want: stp, have: converged(stp)},
		{name: "no-op with bfd", want: bfd, have: converged(bfd)},
		{
			name: "new tunnel", want: greState(2, 3, 4), have: converged(greState(2, 3)),
			lines: []string{"create port gre-docker4 type=gre remote_ip=198.18.0.4 ofport_request=32772"},
		},
		{
			name: "option added", want: withKey, have: converged(greState(2, 3)),
			lines: []string{"update interface gre-docker2 options:key (unset) -> 7"},
		},
		{
			name: "option removed", want: greState(2, 3), have: converged(withKey),
			lines: []string{"update interface gre-docker2 options:key 7 -> (unset)"},
		},
		{
			name: "foreign option on our interface removed", want: greState(2),
			have:  converged(greState(2)).editIface("gre-docker2", func(i *vswitchd.Interface) { i.Options["tos"] = "inherit" }),
			lines: []string{"update interface gre-docker2 options:tos inherit -> (unset)"},
		},
		{
			name: "remote change", want: greState(2, 3),
			have:  converged(greState(2, 3)).editIface("gre-docker2", func(i *vswitchd.Interface) { i.Options["remote_ip"] = "198.18.0.9" }),
			lines: []string{"update interface gre-docker2 options:remote_ip 198.18.0.9 -> 198.18.0.2"},
		},
		{
			name: "type and ofport_request change", want: greState(2),
			have: converged(greState(2)).editIface("gre-docker2", func(i *vswitchd.Interface) { i.Type, i.OfportRequest = "vxlan", nil }),
			lines: []string{
				"update interface gre-docker2 ofport_request (unset) -> 32770",
				"update interface gre-docker2 type vxlan -> gre",
			},
		},
		{
			name: "bfd enabled", want: bfd, have: converged(greState(2)),
			lines: []string{"update interface gre-docker2 bfd:enable (unset) -> true"},
		},
		{
			name: "stp on, cost set, fail_mode cleared", want: stp, have: converged(greState(2, 3)),
			lines: []string{
				"update bridge br0 fail_mode secure -> (unset)",
				"update bridge br0 stp_enable false -> true",
				"update port gre-docker2 other_config:stp-path-cost (unset) -> 10",
			},
		},
		{
			name: "stp cost removed", want: greState(2, 3),
			have: converged(greState(2, 3)).editPort("gre-docker2", func(p *vswitchd.Port) {
				p.OtherConfig = map[string]string{"stp-path-cost": "10", "operator": "x"}
			}),
			lines: []string{"update port gre-docker2 other_config:stp-path-cost 10 -> (unset)"},
		},
		{
			name: "mtu change", want: greState(2),
			have:  converged(greState(2)).editIface("br0", func(i *vswitchd.Interface) { i.MTURequest = ptr(1500) }),
			lines: []string{"update interface br0 mtu_request 1500 -> 1462"},
		},
		{
			name: "tunnel removed", want: greState(2), have: converged(greState(2, 3, 4)),
			lines: []string{
				"delete port gre-docker3 type=gre remote_ip=198.18.0.3 (no longer in the topology)",
				"delete port gre-docker4 type=gre remote_ip=198.18.0.4 (no longer in the topology)",
			},
		},
		{
			name: "foreign port left alone", want: greState(2),
			have: converged(greState(2)).addPort("br0", vswitchd.Port{Name: "foreign0"},
				vswitchd.Interface{Name: "foreign0", Type: "internal"}),
		},
		{
			name: "foreign port with our name", want: greState(2, 3),
			have: converged(greState(2)).addPort("br0", vswitchd.Port{Name: "gre-docker3"},
				vswitchd.Interface{Name: "gre-docker3", Type: "gre", Options: map[string]string{"remote_ip": "192.0.2.1"}}).
				editIface("gre-docker2", func(i *vswitchd.Interface) { i.Options["remote_ip"] = "198.18.0.9" }),
			lines:   []string{"update interface gre-docker2 options:remote_ip 198.18.0.9 -> 198.18.0.2"},
			wantErr: `create tunnel port "gre-docker3" to 198.18.0.3: port "gre-docker3" on bridge "br0" is not ovsmesh's (no external_ids:ovsmesh-owner), not taking it over`,
		},
		{
			name: "name used on another bridge", want: greState(2, 3),
			have: converged(greState(2)).addBridge(vswitchd.Bridge{Name: "br1"}).
				addPort("br1", vswitchd.Port{Name: "gre-docker3"}, vswitchd.Interface{Name: "gre-docker3"}),
			wantErr: `create tunnel port "gre-docker3" to 198.18.0.3: port "gre-docker3" of bridge "br1": name already in use`,
		},
		{
			name: "name used by an interface of another port", want: greState(2, 3),
			have: converged(greState(2)).addPort("br0", vswitchd.Port{Name: "bond0"},
				vswitchd.Interface{Name: "gre-docker3"}, vswitchd.Interface{Name: "eth1"}),
			wantErr: `create tunnel port "gre-docker3" to 198.18.0.3: interface "gre-docker3" of port "bond0": name already in use`,
		},
		{
			name: "hand-made bridge adopted", want: greState(2),
			have: newFakeDB().addBridge(vswitchd.Bridge{Name: "br0"}).
				addPort("br0", vswitchd.Port{Name: "br0"}, vswitchd.Interface{Name: "br0", Type: "internal"}).
				addPort("br0", vswitchd.Port{Name: "eth1"}, vswitchd.Interface{Name: "eth1"}),
			lines: []string{
				"create port gre-docker2 type=gre remote_ip=198.18.0.2 ofport_request=32770",
				"update bridge br0 datapath_type system -> netdev",
				"update bridge br0 external_ids:ovsmesh-owner (unset) -> docker1",
				"update bridge br0 fail_mode (unset) -> secure",
				"update bridge br0 protocols (unset) -> OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15",
				"update interface br0 external_ids:ovsmesh-owner (unset) -> docker1",
				"update interface br0 mtu_request (unset) -> 1462",
				"update port br0 external_ids:ovsmesh-owner (unset) -> docker1",
			},
		},
		{
			name: "operator keys kept, owner renamed", want: greState(2),
			have: converged(greState(2)).editBridge("br0", func(b *vswitchd.Bridge) {
				b.ExternalIDs = map[string]string{topology.OwnerKey: "old-name", "bridge-id": "br0"}
			}).editPort("gre-docker2", func(p *vswitchd.Port) { p.ExternalIDs["note"] = "kept" }),
			lines: []string{"update bridge br0 external_ids:ovsmesh-owner old-name -> docker1"},
		},
		{
			name: "empty datapath_type is system, protocols are a set", want: func() topology.OVSState {
				s := greState(2)
				s.Datapath = topology.DatapathSystem
				return s
			}(),
			have: converged(greState(2)).editBridge("br0", func(b *vswitchd.Bridge) {
				b.DatapathType = ""
				b.Protocols = []string{"OpenFlow15", "OpenFlow14", "OpenFlow13", "OpenFlow10"}
			}),
		},
		{
			name: "owned port lost its interface", want: greState(2),
			have: converged(greState(2)).editPort("gre-docker2", func(p *vswitchd.Port) {
				p.Interfaces = nil
			}),
			lines: []string{
				"create interface gre-docker2 type=gre remote_ip=198.18.0.2 ofport_request=32770",
				"update port gre-docker2 interfaces (unset) -> gre-docker2",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := diff(tc.want, snapshotOf(tc.have.t, tc.want.Bridge))
			if got, want := strings.Join(p.Lines, "\n"), strings.Join(tc.lines, "\n"); got != want {
				t.Errorf("lines:\n%s\nwant:\n%s", got, want)
			}
			gotErr := ""
			if err := errors.Join(p.Errs...); err != nil {
				gotErr = err.Error()
			}
			if gotErr != tc.wantErr {
				t.Errorf("error:\n%s\nwant:\n%s", gotErr, tc.wantErr)
			}
		})
	}
}

// TestDiffKeyChanges checks that the owner mark and the STP cost are changed key
// by key (so that mutations leave the operator's keys alone): a changed value is
// deleted, then inserted.
func TestDiffKeyChanges(t *testing.T) {
	want := greState(2)
	want.Tunnels[0].STPCost = 20
	have := converged(greState(2)).
		editBridge("br0", func(b *vswitchd.Bridge) { b.ExternalIDs = map[string]string{"bridge-id": "x"} }).
		editPort("gre-docker2", func(p *vswitchd.Port) {
			p.OtherConfig = map[string]string{"stp-path-cost": "10", "priority": "1"}
		})
	p := diff(want, snapshotOf(have.t, "br0"))
	var got []string
	for _, k := range p.Bridge.Keys {
		got = append(got, "bridge "+keyText(k))
	}
	for _, pp := range p.Ports {
		for _, k := range pp.PortKeys {
			got = append(got, "port "+pp.Port.Name+" "+keyText(k))
		}
	}
	want2 := []string{
		"bridge insert external_ids:ovsmesh-owner=docker1",
		"port gre-docker2 delete other_config:stp-path-cost insert other_config:stp-path-cost=20",
	}
	if strings.Join(got, "\n") != strings.Join(want2, "\n") {
		t.Errorf("key changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want2, "\n"))
	}
}

func keyText(k keyChange) string {
	var s []string
	if k.Old != nil {
		s = append(s, "delete "+k.Column+":"+k.Key)
	}
	if k.New != nil {
		s = append(s, "insert "+k.Column+":"+k.Key+"="+*k.New)
	}
	return strings.Join(s, " ")
}

// TestHealthErrors checks the interface problems reported after ovs-vswitchd
// applied a transaction.
func TestHealthErrors(t *testing.T) {
	have := converged(greState(2, 3, 4)).
		editIface("gre-docker2", func(i *vswitchd.Interface) { i.Ofport = ptr(32770) }).
		editIface("gre-docker3", func(i *vswitchd.Interface) {
			i.Ofport, i.Error = ptr(-1), ptr("could not open network device gre-docker3 (Address family not supported by protocol)")
		}).
		editIface("gre-docker4", func(i *vswitchd.Interface) { i.Ofport = ptr(7) }).
		addPort("br0", vswitchd.Port{Name: "foreign0"}, vswitchd.Interface{Name: "foreign0", Ofport: ptr(-1)})
	var got []string
	for _, err := range healthErrors(snapshotOf(have.t, "br0"), greState(2, 3, 4)) {
		got = append(got, err.Error())
	}
	want := []string{
		`tunnel port "gre-docker3" to 198.18.0.3: ovs-vswitchd reports: could not open network device gre-docker3 (Address family not supported by protocol) (the next pass recreates it)`,
		`tunnel port "gre-docker4" to 198.18.0.4: got ofport 7 instead of ofport_request 32772 (the next pass recreates it)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("health errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// BenchmarkDiff measures a converged 1000-tunnel host: the cost of a pass that
// changes nothing.
func BenchmarkDiff(b *testing.B) {
	peers := make([]int, 1000)
	for i := range peers {
		peers[i] = i + 2
	}
	want := greState(peers...)
	db := converged(want)
	b.ResetTimer()
	for b.Loop() {
		p := diff(want, snapshotOf(db.t, "br0"))
		if !p.empty() {
			b.Fatalf("converged state has changes: %v", p.Lines[:1])
		}
	}
}
