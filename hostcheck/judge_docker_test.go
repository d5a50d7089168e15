package hostcheck

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

var (
	planDocker = topology.DockerBridge{Name: "docker0", Port: "br0", Address: netip.MustParsePrefix("172.17.0.2/16"), MTU: 1462,
		FixedCIDR: netip.MustParsePrefix("172.17.32.0/20"), Subnet: netip.MustParsePrefix("172.17.0.0/16")}
	// planned is Docker 20.10 started with ovsmesh's daemon.json.
	planned = topology.DockerNetwork{Name: "bridge", Bridge: "docker0", Gateway: netip.MustParseAddr("172.17.0.2"),
		Subnet: planDocker.Subnet, IPRange: planDocker.FixedCIDR, MTU: 1462, ICC: true}
	// defaults is Docker 20.10 started with daemon.json {} on a fresh host.
	defaults = topology.DockerNetwork{Name: "bridge", Bridge: "docker0", Subnet: planDocker.Subnet, MTU: 1500, ICC: true}
	// ovsmeshJSON is daemon.json as apply writes it.
	ovsmeshJSON = DaemonJSON{Path: "/etc/docker/daemon.json", Bip: "172.17.0.2/16", FixedCIDR: "172.17.32.0/20", MTU: 1462}
)

func TestJudgeDockerNetwork(t *testing.T) {
	host := "unix:///var/run/docker.sock"
	for _, tc := range []struct {
		name   string
		f      DockerFacts
		want   Status
		detail string
		fix    string
	}{
		{"as planned", DockerFacts{Host: host, Version: "20.10.24 (API 1.41)", Network: planned, Daemon: ovsmeshJSON}, OK,
			`Docker 20.10.24 (API 1.41) at unix:///var/run/docker.sock reports network "bridge" as planned: gateway 172.17.0.2, subnet 172.17.0.0/16, IP range 172.17.32.0/20, MTU 1462`, ""},
		{"not restarted", DockerFacts{Host: host, Version: "20.10.24 (API 1.41)", Network: defaults, Daemon: ovsmeshJSON}, Problem,
			`Docker 20.10.24 (API 1.41) at unix:///var/run/docker.sock: Docker's network "bridge" has gateway none, the plan 172.17.0.2; ` +
				`Docker's network "bridge" has IP range none (the whole subnet), the plan 172.17.32.0/20; Docker's network "bridge" has MTU 1500, the plan 1462`,
			"restart Docker to apply /etc/docker/daemon.json (systemctl restart docker): it holds the plan, and Docker reads it only when it starts"},
		{"before apply", DockerFacts{Host: host, Network: defaults, Daemon: DaemonJSON{Path: "/etc/docker/daemon.json", Missing: true}}, Problem,
			"", "run ovsmesh apply (it writes /etc/docker/daemon.json), then restart Docker (systemctl restart docker)"},
		{"not running", DockerFacts{Host: host, Unreachable: "Docker not reachable at " + host + ": connect: no such file or directory", Daemon: ovsmeshJSON}, Warning,
			"Docker not reachable at unix:///var/run/docker.sock: connect: no such file or directory: what Docker reports was not compared with the plan",
			"nothing to do if Docker is not running yet"},
		{"no network", DockerFacts{Host: host, Err: `Docker has no network on bridge docker0, and no default network "bridge"`, Daemon: ovsmeshJSON}, Problem,
			`Docker has no network on bridge docker0, and no default network "bridge"`, "restart Docker to apply"},
	} {
		it := judgeDockerNetwork(planDocker, tc.f)
		if it.Status != tc.want || !strings.HasPrefix(it.Detail, tc.detail) || !strings.HasPrefix(it.Fix, tc.fix) || (tc.fix == "") != (it.Fix == "") {
			t.Errorf("%s: %+v", tc.name, it)
		}
	}
}

func TestJudgeICC(t *testing.T) {
	off, on := false, true
	noICC := planned
	noICC.ICC = false
	withICC := func(v *bool) DaemonJSON { d := ovsmeshJSON; d.ICC = v; return d }
	for _, tc := range []struct {
		name   string
		f      DockerFacts
		want   Status
		detail string
	}{
		{"on", DockerFacts{Network: planned, Daemon: withICC(&on)}, OK, `/etc/docker/daemon.json does not set "icc": false, and Docker's network "bridge" reports enable_icc true`},
		{"both off", DockerFacts{Network: noICC, Daemon: withICC(&off)}, Problem,
			`/etc/docker/daemon.json sets "icc": false; Docker's network "bridge" reports enable_icc false: the plan needs icc on: ` +
				`Docker's inter-container DROP rule in the FORWARD chain (-i docker0 -o docker0 -j DROP) also drops the mesh's traffic, bridged between br0 and the containers on docker0, when br_netfilter is loaded`},
		{"file only, Docker not restarted", DockerFacts{Network: planned, Daemon: withICC(&off)}, Problem, `/etc/docker/daemon.json sets "icc": false: `},
		{"Docker only", DockerFacts{Network: noICC, Daemon: ovsmeshJSON}, Problem, `Docker's network "bridge" reports enable_icc false: `},
		{"file, Docker not running", DockerFacts{Unreachable: "Docker not reachable", Daemon: withICC(&off)}, Problem, `/etc/docker/daemon.json sets "icc": false: `},
		{"Docker not running", DockerFacts{Unreachable: "Docker not reachable", Daemon: ovsmeshJSON}, OK, `/etc/docker/daemon.json does not set "icc": false`},
	} {
		it := judgeICC(planDocker, tc.f)
		fixed := strings.Contains(it.Fix, `drop "icc": false from daemon.json and restart Docker, or accept the mesh's frames in DOCKER-USER (iptables -I DOCKER-USER -m physdev --physdev-in br0 -j ACCEPT;`)
		if it.Status != tc.want || !strings.HasPrefix(it.Detail, tc.detail) || fixed != (tc.want == Problem) {
			t.Errorf("%s: %+v", tc.name, it)
		}
	}
}

func TestJudgePools(t *testing.T) {
	if it := judgePools(planDocker, ovsmeshJSON); it.Status != OK {
		t.Errorf("no pools: %+v", it)
	}
	d := ovsmeshJSON
	d.Pools = []string{"10.200.0.0/16"}
	it := judgePools(planDocker, d)
	if it.Status != Warning || !strings.Contains(it.Detail, "(10.200.0.0/16): Docker then deletes and recreates docker0 on every restart, which detaches br0 from it") {
		t.Errorf("pools: %+v", it)
	}
}
