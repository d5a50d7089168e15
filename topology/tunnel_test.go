package topology

import (
	"maps"
	"math/rand/v2"
	"net"
	"testing"
)

// TestTunnelTypeByDatapath: GRE over an IPv6 underlay is ip6gre with
// packet_type=legacy_l2 on the kernel datapath and plain gre on the userspace
// one; IPv4 GRE and VXLAN keep their type on both.
func TestTunnelTypeByDatapath(t *testing.T) {
	cases := []struct {
		encap, datapath, a, b string
		typ, packetType       string
	}{
		{"gre", "system", "2001:db8::1", "2001:db8::2", "ip6gre", "legacy_l2"},
		{"gre", "netdev", "2001:db8::1", "2001:db8::2", "gre", ""},
		{"gre", "system", "192.0.2.1", "192.0.2.2", "gre", ""},
		{"gre", "netdev", "192.0.2.1", "192.0.2.2", "gre", ""},
		{"vxlan", "system", "2001:db8::1", "2001:db8::2", "vxlan", ""},
		{"vxlan", "netdev", "192.0.2.1", "192.0.2.2", "vxlan", ""},
	}
	for _, c := range cases {
		y := "network:\n  encap: " + c.encap + "\n  datapath: " + c.datapath + "\nhosts:\n" +
			"  - {name: a, address: '" + c.a + "', index: 1}\n  - {name: b, address: '" + c.b + "', index: 2}\n"
		topo, err := Compile("t.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		s := mustDesired(t, topo, "a")
		tu := s.OVS.Tunnels[0]
		if tu.Type != c.typ || tu.PacketType != c.packetType {
			t.Errorf("%s on %s over %s: type %q packet_type %q, want %q %q", c.encap, c.datapath, c.a, tu.Type, tu.PacketType, c.typ, c.packetType)
		}
		want := map[string]string{"remote_ip": c.b, "local_ip": c.a}
		if c.packetType != "" {
			want["packet_type"] = c.packetType
		}
		if got := tu.Options(); !maps.Equal(got, want) {
			t.Errorf("%s on %s over %s: options %v, want %v", c.encap, c.datapath, c.a, got, want)
		}
	}
}

// TestLocalIPIsOwnAddress: every tunnel of a host leaves from the host's own
// underlay address.
func TestLocalIPIsOwnAddress(t *testing.T) {
	topo := mustCompile(t, randomTopo(rand.New(rand.NewPCG(9, 10)), 12, ModeMesh))
	for _, h := range topo.Hosts {
		for _, tu := range mustDesired(t, topo, h.Name).OVS.Tunnels {
			if tu.LocalIP != h.Address || tu.Options()["local_ip"] != h.Address.String() {
				t.Errorf("%s: tunnel %s local_ip %s (options %v), want %s", h.Name, tu.Name, tu.LocalIP, tu.Options(), h.Address)
			}
		}
	}
}

// TestPathCostKey: RSTP reads rstp-path-cost, 802.1D STP stp-path-cost.
func TestPathCostKey(t *testing.T) {
	if got := (OVSState{STP: true}).PathCostKey(); got != "stp-path-cost" {
		t.Errorf("STP: %q", got)
	}
	if got := (OVSState{RSTP: true}).PathCostKey(); got != "rstp-path-cost" {
		t.Errorf("RSTP: %q", got)
	}
}

// TestDockerMAC: the pinned docker0 address is 02:42 and the docker0 IPv4
// address, a locally administered unicast address, distinct for every slot of a
// cluster and different between clusters with different subnets.
func TestDockerMAC(t *testing.T) {
	y := func(subnet string) string {
		return "network:\n  subnet: " + subnet + "\n  slice_prefix: 20\nhosts:\n  - {name: a, address: 192.0.2.1, index: 1}\n"
	}
	topo, err := Compile("t.yaml", []byte(y("172.17.0.0/16")))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustDesired(t, topo, "a").Docker.MAC; got != "02:42:ac:11:00:01" {
		t.Errorf("docker0 MAC of index 1 in 172.17.0.0/16: %s, want 02:42:ac:11:00:01", got)
	}
	seen := map[string]int{}
	for i := 1; i <= topo.Slots(); i++ {
		m := topo.DockerMAC(i)
		hw, err := net.ParseMAC(m)
		if err != nil || len(hw) != 6 {
			t.Fatalf("index %d: %q is not an Ethernet address: %v", i, m, err)
		}
		if hw[0]&1 != 0 || hw[0]&2 == 0 {
			t.Fatalf("index %d: %s is not a locally administered unicast address", i, m)
		}
		if j, dup := seen[m]; dup {
			t.Fatalf("indexes %d and %d share the MAC %s", j, i, m)
		}
		seen[m] = i
	}
	other, err := Compile("t.yaml", []byte(y("10.42.0.0/16")))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := topo.DockerMAC(1), other.DockerMAC(1); a == b {
		t.Errorf("index 1 has the MAC %s in two clusters with different subnets", a)
	}
}
