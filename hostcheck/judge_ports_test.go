package hostcheck

import (
	"net/netip"
	"strings"
	"testing"
)

var (
	peer2   = netip.MustParseAddr("198.18.0.2")
	local   = netip.MustParseAddr("198.18.0.1")
	vxPlan  = PortPlan{Encap: "vxlan", Port: 4789, Local: local, Peers: []netip.Addr{peer2}}
	grePlan = PortPlan{Encap: "gre", Local: local, Peers: []netip.Addr{peer2}}
)

func TestJudgePortsClean(t *testing.T) {
	f := PortFacts{
		Links: []KernelLink{
			{Name: "vxlan_sys_4789", Kind: "vxlan", Up: true, VXLANPort: 4789, OVS: true},
			{Name: "flannel.1", Kind: "vxlan", Up: true, VXLANPort: 8472},
		},
		Sockets: []UDPSocket{
			{Local: netip.MustParseAddrPort("0.0.0.0:4789"), Inode: 7}, // vxlan_sys_4789's kernel socket
			{Local: netip.MustParseAddrPort("0.0.0.0:4789"), Inode: 8, PID: 99, Comm: "ovs-vswitchd"},
		},
		OVSDB: OVSDBFacts{Bridges: []OVSBridge{{Name: "br0", Ifaces: []OVSIface{
			{Port: "vx-d2", Name: "vx-d2", Type: "vxlan", Options: map[string]string{"remote_ip": "198.18.0.2"}, Owned: true},
			{Port: "other", Name: "other", Type: "vxlan", Options: map[string]string{"remote_ip": "10.9.9.9", "dst_port": "4790"}},
		}}}},
	}
	got := itemsText(JudgePorts(vxPlan, f))
	if !strings.HasPrefix(got, "ok       port vxlan udp/4789: no kernel vxlan device, UDP socket or foreign OVS tunnel port uses UDP port 4789\n") {
		t.Errorf("got\n%s", got)
	}
	gre := PortFacts{Links: []KernelLink{
		{Name: "gre0", Kind: "gre", Up: true},
		{Name: "gre_sys", Kind: "gretap", Up: true, OVS: true},
		{Name: "t1", Kind: "gretap", Up: true, Remote: netip.MustParseAddr("10.1.1.1")},
		{Name: "t2", Kind: "gretap", Up: false},
	}}
	if got := itemsText(JudgePorts(grePlan, gre)); !strings.HasPrefix(got, "ok       port gre: ") {
		t.Errorf("gre: got\n%s", got)
	}
}

func TestJudgePortsVXLANClashes(t *testing.T) {
	f := PortFacts{
		Links: []KernelLink{{Name: "chkvx0", Kind: "vxlan", VXLANPort: 4789}},
		Sockets: []UDPSocket{
			{Local: netip.MustParseAddrPort("0.0.0.0:4789"), Inode: 7},
			{Local: netip.MustParseAddrPort("[::]:4789"), Inode: 9, PID: 123, Comm: "socat"},
		},
		OVSDB: OVSDBFacts{Bridges: []OVSBridge{{Name: "br-int", Ifaces: []OVSIface{
			{Port: "vx1", Name: "vx1", Type: "vxlan", Options: map[string]string{"remote_ip": "flow"}},
			{Port: "vx2", Name: "vx2", Type: "vxlan", Options: map[string]string{"remote_ip": "10.9.9.9"}},
		}}}},
	}
	got := itemsText(JudgePorts(vxPlan, f))
	for _, want := range []string{
		"problem  port vxlan device chkvx0: a kernel vxlan device already uses UDP port 4789",
		"fix: delete it (ip link del chkvx0)",
		"problem  port udp socket [::]:4789: socat (pid 123) is bound to UDP port 4789",
		"problem  port ovs port vx1 on br-int: a vxlan tunnel port that is not ovsmesh's, to flow",
		"fix: delete it (ovs-vsctl del-port br-int vx1)",
		"warning  port ovs port vx2 on br-int: a vxlan tunnel port that is not ovsmesh's shares UDP port 4789 (to 10.9.9.9)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "0.0.0.0:4789") {
		t.Errorf("reports the device's own kernel socket:\n%s", got)
	}
	// Without a device here, a socket nobody holds is someone else's kernel socket.
	f.Links = nil
	if got := itemsText(JudgePorts(vxPlan, f)); !strings.Contains(got, "problem  port udp socket 0.0.0.0:4789: a socket no process here holds") {
		t.Errorf("no device: got\n%s", got)
	}
}

func TestJudgePortsGREClashes(t *testing.T) {
	f := PortFacts{
		Links: []KernelLink{{Name: "mygre", Kind: "gretap", Up: true, Local: local}},
		OVSDB: OVSDBFacts{Bridges: []OVSBridge{{Name: "br9", Ifaces: []OVSIface{
			{Port: "g1", Name: "g1", Type: "gre", Options: map[string]string{"remote_ip": "198.18.0.2"}},
			{Port: "g2", Name: "g2", Type: "gre", Options: map[string]string{"remote_ip": "10.1.1.1"}},
		}}}},
	}
	got := itemsText(JudgePorts(grePlan, f))
	for _, want := range []string{
		"problem  port gretap device mygre: a kernel GRE device takes GRE from any address to this host",
		"problem  port ovs port g1 on br9: a gre tunnel port that is not ovsmesh's, to 198.18.0.2",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "g2") {
		t.Errorf("reports a GRE port to another address:\n%s", got)
	}
}

func TestParseProcNetUDP(t *testing.T) {
	v4 := `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 1276: 00000000:12B5 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 16499158 2 00000000498aab2e 0
 1277: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 11 2 00000000498aab2e 0
 1278: 0100A8C0:12B5 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 12 2 00000000498aab2e 0
`
	got, err := ParseProcNetUDP(strings.NewReader(v4), 4789)
	if err != nil || len(got) != 2 || got[0].Local.String() != "0.0.0.0:4789" || got[0].Inode != 16499158 ||
		got[1].Local.String() != "192.168.0.1:4789" {
		t.Errorf("v4: %v %+v", err, got)
	}
	v6 := `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 1276: 00000000000000000000000001000000:12B5 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 42 2 0000000000000000 0
`
	got, err = ParseProcNetUDP(strings.NewReader(v6), 4789)
	if err != nil || len(got) != 1 || got[0].Local.String() != "[::1]:4789" || got[0].Inode != 42 {
		t.Errorf("v6: %v %+v", err, got)
	}
}
