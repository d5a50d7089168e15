package topology

import (
	"net/netip"
	"strings"
	"testing"
)

func TestDockerDiff(t *testing.T) {
	want := DockerBridge{Name: "docker0", Port: "br0", Address: netip.MustParsePrefix("172.17.0.2/16"), MTU: 1462,
		FixedCIDR: netip.MustParsePrefix("172.17.32.0/20"), Subnet: netip.MustParsePrefix("172.17.0.0/16")}
	match := DockerNetwork{Name: "bridge", Bridge: "docker0", Gateway: netip.MustParseAddr("172.17.0.2"),
		Subnet: want.Subnet, IPRange: want.FixedCIDR, MTU: 1462, ICC: true}
	for _, tc := range []struct {
		name string
		edit func(*DockerNetwork)
		want []string
	}{
		{"matches", func(*DockerNetwork) {}, nil},
		{"gateway", func(n *DockerNetwork) { n.Gateway = netip.MustParseAddr("172.17.0.1") },
			[]string{`Docker's network "bridge" has gateway 172.17.0.1, the plan 172.17.0.2`}},
		// Docker 20.10 with daemon.json {} on a fresh host reports no gateway,
		// no IP range and MTU 1500.
		{"defaults", func(n *DockerNetwork) { n.Gateway, n.IPRange, n.MTU = netip.Addr{}, netip.Prefix{}, 1500 }, []string{
			`Docker's network "bridge" has gateway none, the plan 172.17.0.2`,
			`Docker's network "bridge" has IP range none (the whole subnet), the plan 172.17.32.0/20`,
			`Docker's network "bridge" has MTU 1500, the plan 1462`}},
		{"subnet", func(n *DockerNetwork) { n.Subnet = netip.MustParsePrefix("172.18.0.0/16") },
			[]string{`Docker's network "bridge" has subnet 172.18.0.0/16, the plan 172.17.0.0/16`}},
		{"no mtu option", func(n *DockerNetwork) { n.MTU = 0 }, []string{`Docker's network "bridge" has MTU unset, the plan 1462`}},
		{"icc is not a difference", func(n *DockerNetwork) { n.ICC = false }, nil},
	} {
		have := match
		tc.edit(&have)
		got := DockerDiff(want, have)
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestDockerICC(t *testing.T) {
	want := DockerBridge{Name: "docker0", Port: "br0"}
	if got := DockerICC(want, DockerNetwork{Name: "bridge", Bridge: "docker0", ICC: true}); got != "" {
		t.Errorf("icc true: %q", got)
	}
	got := DockerICC(want, DockerNetwork{Name: "bridge", Bridge: "docker0"})
	if w := `Docker's network "bridge" has enable_icc false (daemon.json "icc": false), the plan needs true: ` +
		`Docker's inter-container DROP rule in the FORWARD chain (-i docker0 -o docker0 -j DROP) also drops the mesh's traffic, ` +
		`bridged between br0 and the containers on docker0, when br_netfilter is loaded`; got != w {
		t.Errorf("icc false:\n got %q\nwant %q", got, w)
	}
}
