package topology

import (
	"regexp"
	"strings"
	"testing"
)

const base = `network:
  encap: gre
  mode: stp
  subnet: 172.17.0.0/16
  slice_prefix: 18
hosts:
  - name: docker1
    address: 192.168.12.107
    index: 1
  - name: docker2
    address: 192.168.12.117
    index: 2
`

// TestValidationErrors checks every kind of bad input of docs/topology.md: the
// message names file, line, column and field, and says what is accepted.
func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // each must be one whole line of the error, in this order
	}{
		{"syntax", "network:\n  encap: gre\n   mode: [\n", []string{`t.yaml:3:4: invalid YAML: mapping values are not allowed in this context (check the indentation, and quote a value that contains ': ')`}},
		{"unknown key", strings.Replace(base, "  mode: stp", "  mtuu: 1400", 1),
			[]string{`t.yaml:3:3: network.mtuu: unknown key (known keys: bfd, bfd_interval_ms, bfd_mult, bridge, datapath, docker_bridge, encap, key, mode, mtu, rstp, slice_prefix, subnet, underlay_mtu, vxlan_port)`}},
		{"unknown host key", strings.Replace(base, "    index: 2", "    idx: 2", 1),
			[]string{`t.yaml:10:5: hosts[1].index: missing: every host needs a stable index from 1`, `t.yaml:12:5: hosts[1].idx: unknown key (known keys: address, index, name)`}},
		{"unknown top key", base + "link: []\n", []string{`t.yaml:13:1: link: unknown key (known keys: hosts, links, network, networks)`}},
		{"repeated key", strings.Replace(base, "  mode: stp", "  mode: stp\n  mode: tree", 1), []string{`t.yaml:4:3: network.mode: repeated key`}},
		{"duplicate name", strings.Replace(base, "name: docker2", "name: docker1", 1), []string{`t.yaml:10:11: hosts[1].name: "docker1" is also hosts[0].name: names must be unique`}},
		{"duplicate index", strings.Replace(base, "index: 2", "index: 1", 1), []string{`t.yaml:12:12: hosts[1].index: 1 is also hosts[0].index: indexes must be unique`}},
		{"duplicate address", strings.Replace(base, "192.168.12.117", "192.168.12.107", 1), []string{`t.yaml:11:14: hosts[1].address: 192.168.12.107 is also hosts[0].address: addresses must be unique`}},
		{"bad ip", strings.Replace(base, "192.168.12.117", "10.0.0.300", 1), []string{`t.yaml:11:14: hosts[1].address: "10.0.0.300" is not an IP address`}},
		{"mixed families", strings.Replace(base, "192.168.12.117", "2001:db8::2", 1), []string{`t.yaml:11:14: hosts[1].address: 2001:db8::2 is not of the same IP version as hosts[0].address 192.168.12.107: tunnels need one underlay family`}},
		{"bad cidr", strings.Replace(base, "172.17.0.0/16", "172.17.0.0/33", 1), []string{`t.yaml:4:11: network.subnet: "172.17.0.0/33" is not a CIDR (want e.g. 172.17.0.0/16)`}},
		{"host bits", strings.Replace(base, "172.17.0.0/16", "172.17.0.1/16", 1), []string{`t.yaml:4:11: network.subnet: 172.17.0.1/16 has host bits set (did you mean 172.17.0.0/16?)`}},
		{"ipv6 subnet", strings.Replace(base, "172.17.0.0/16", "fd00::/64", 1), []string{`t.yaml:4:11: network.subnet: fd00::/64 is not an IPv4 subnet: the container subnet must be IPv4`}},
		{"slice not longer", strings.Replace(base, "slice_prefix: 18", "slice_prefix: 16", 1), []string{`t.yaml:5:17: network.slice_prefix: 16 must be longer than the subnet's /16 and at most 30`}},
		{"index does not fit", strings.Replace(base, "index: 2", "index: 4", 1), []string{`t.yaml:12:12: hosts[1].index: 4 does not fit: subnet 172.17.0.0/16 with slice_prefix 18 allows 3 hosts (indexes 1 to 3)`}},
		{"index zero", strings.Replace(base, "index: 2", "index: 0", 1), []string{`t.yaml:12:12: hosts[1].index: 0 does not fit: subnet 172.17.0.0/16 with slice_prefix 18 allows 3 hosts (indexes 1 to 3)`}},
		{"index not int", strings.Replace(base, "index: 2", "index: two", 1), []string{`t.yaml:12:12: hosts[1].index: "two" is not an integer`}},
		{"unknown encap", strings.Replace(base, "encap: gre", "encap: geneve", 1), []string{`t.yaml:2:10: network.encap: "geneve" is not one of gre, vxlan`}},
		{"unknown mode", strings.Replace(base, "mode: stp", "mode: ring", 1), []string{`t.yaml:3:9: network.mode: "ring" is not one of mesh, stp, tree`}},
		{"unknown datapath", strings.Replace(base, "  mode: stp", "  mode: stp\n  datapath: dpdk", 1), []string{`t.yaml:4:13: network.datapath: "dpdk" is not one of system, netdev`}},
		{"mtu too large", strings.Replace(base, "  mode: stp", "  mode: stp\n  mtu: 1500", 1), []string{`t.yaml:4:8: network.mtu: 1500 is larger than 1462, the most that fits a 1500-byte underlay with gre (38 bytes of overhead)`}},
		{"mtu with key", strings.Replace(base, "  mode: stp", "  mode: stp\n  key: 7\n  mtu: 1462", 1), []string{`t.yaml:5:8: network.mtu: 1462 is larger than 1458, the most that fits a 1500-byte underlay with gre (42 bytes of overhead)`}},
		{"bridge name too long", strings.Replace(base, "  mode: stp", "  mode: stp\n  bridge: a-very-long-bridge", 1), []string{`t.yaml:4:11: network.bridge: "a-very-long-bridge" is longer than 15 bytes, the limit for a Linux interface name`}},
		{"dot in bridge name", strings.Replace(base, "  mode: stp", "  mode: stp\n  docker_bridge: br0.5", 1), []string{`t.yaml:4:18: network.docker_bridge: "br0.5" contains '.', which ifupdown reads as a VLAN interface`}},
		{"vni too large", strings.Replace(base, "encap: gre", "encap: vxlan\n  key: 16777216", 1), []string{`t.yaml:3:8: network.key: 16777216 is not a VXLAN VNI (0 to 16777215)`}},
		{"link unknown host", base + "links:\n  - {a: docker1, b: docker9}\n", []string{`t.yaml:14:21: links[0].b: "docker9" is not a host of this file`}},
		{"link to itself", base + "links:\n  - {a: docker1, b: docker1}\n", []string{`t.yaml:14:21: links[0].b: "docker1" links a host to itself`}},
		{"link repeated", base + "links:\n  - {a: docker1, b: docker2}\n  - {a: docker2, b: docker1}\n", []string{`t.yaml:15:5: links[1]: links docker2 and docker1 again, as links[0] does`}},
		{"disconnected", strings.Replace(base, "slice_prefix: 18", "slice_prefix: 20", 1) +
			"  - {name: docker3, address: 192.168.12.127, index: 3}\n  - {name: docker4, address: 192.168.12.137, index: 4}\nlinks:\n  - {a: docker1, b: docker2}\n  - {a: docker4, b: docker3}\n",
			[]string{`t.yaml:16:3: links: the links leave the hosts disconnected in 2 parts: {docker1, docker2} {docker3, docker4}`}},
		{"no hosts key", "network:\n  encap: gre\n", []string{`t.yaml:1:1: hosts: missing: list every host of the cluster`}},
		{"hosts not a list", "hosts: docker1\n", []string{`t.yaml:1:8: hosts: want a list of hosts, got "docker1"`}},
		{"everything at once", strings.NewReplacer("encap: gre", "encap: geneve", "10.0.0", "x", "192.168.12.117", "10.0.0.300", "index: 2", "index: 99").Replace(base),
			[]string{
				`t.yaml:2:10: network.encap: "geneve" is not one of gre, vxlan`,
				`t.yaml:11:14: hosts[1].address: "10.0.0.300" is not an IP address`,
				`t.yaml:12:12: hosts[1].index: 99 does not fit: subnet 172.17.0.0/16 with slice_prefix 18 allows 3 hosts (indexes 1 to 3)`,
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			topo, err := Compile("t.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Compile accepted the file: %+v", topo.Network)
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
			if len(Problems(err)) != len(got) {
				t.Errorf("Problems returned %d, the message has %d lines", len(Problems(err)), len(got))
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	topo, err := Compile("t.yaml", []byte("hosts:\n  - {name: a, address: 192.0.2.1, index: 1}\n  - {name: b, address: 2001:db8::1, index: 2}\n"))
	if err == nil {
		t.Fatal("mixed families accepted")
	}
	topo, err = Compile("t.yaml", []byte("hosts:\n  - {name: a, address: 2001:db8::1, index: 1}\n  - {name: b, address: 2001:db8::2, index: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	n := topo.Network
	got := []any{n.Bridge, n.Encap, n.Mode, n.Datapath, n.UnderlayMTU, n.MTU, n.Subnet.String(), n.SlicePrefix, n.DockerBridge, n.VXLANPort, n.Key == nil}
	want := []any{"br0", "vxlan", "mesh", "system", 1500, 1430, "172.17.0.0/16", 24, "docker0", 4789, true}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("default %d: got %v, want %v (all: %v)", i, got[i], want[i], got)
		}
	}
}

func TestMTU(t *testing.T) {
	cases := []struct {
		encap, key, addr string
		underlay, want   int
	}{
		{"gre", "", "192.0.2.1", 1500, 1462},
		{"vxlan", "", "192.0.2.1", 1500, 1450},
		{"gre", "key: 5", "192.0.2.1", 1500, 1458},
		{"vxlan", "key: 5", "192.0.2.1", 1500, 1450},
		{"gre", "", "2001:db8::1", 1500, 1442},
		{"vxlan", "", "2001:db8::1", 9000, 8930},
	}
	for _, c := range cases {
		y := "network:\n  encap: " + c.encap + "\n  underlay_mtu: " + itoa(c.underlay) + "\n  " + c.key + "\nhosts:\n  - {name: a, address: '" + c.addr + "', index: 1}\n"
		topo, err := Compile("t.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		if topo.Network.MTU != c.want {
			t.Errorf("%s %q over %s/%d: mtu %d, want %d", c.encap, c.key, c.addr, c.underlay, topo.Network.MTU, c.want)
		}
	}
}

// TestIsName checks isName against the regexp it stands for, on every byte in every
// position of short names and on a few longer ones.
func TestIsName(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	names := []string{"", "docker1", "rack9-very-long-hostname-42", "a.b_c-d", "a b", "é", "a\n", "\xff"}
	for c := range 256 {
		b := string(rune(c))
		if c >= 0x80 {
			b = string([]byte{byte(c)})
		}
		names = append(names, b, "a"+b, b+"a", "a"+b+"a")
	}
	for _, s := range names {
		if got, want := isName(s), re.MatchString(s); got != want {
			t.Errorf("isName(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}
