package topology

import (
	"fmt"
	"net/netip"
)

// DockerNetwork is what Docker itself reports (Engine API, GET /networks/NAME)
// of the network whose Linux bridge is the plan's docker bridge: for docker0,
// Docker's default network "bridge". Docker reads daemon.json only when it
// starts, so this may differ from the plan although the file holds it.
type DockerNetwork struct {
	Name   string `json:"name"`   // Docker's name for it, "bridge" for its default network
	Bridge string `json:"bridge"` // the Linux bridge (option com.docker.network.bridge.name)
	// Gateway is IPAM.Config[0].Gateway: the address Docker gives containers
	// as their gateway. Zero when Docker reports none (it then picks one
	// itself, e.g. the bridge's address when it started).
	Gateway netip.Addr   `json:"gateway"`
	Subnet  netip.Prefix `json:"subnet"`
	// IPRange is the range containers get addresses from (daemon.json's
	// fixed-cidr); zero: the whole subnet.
	IPRange netip.Prefix `json:"ip_range"`
	// MTU is option com.docker.network.driver.mtu; 0 when absent.
	MTU int `json:"mtu"`
	// ICC is option com.docker.network.bridge.enable_icc (daemon.json's icc):
	// false makes Docker drop traffic between the bridge's ports.
	ICC bool `json:"enable_icc"`
}

// DockerDiff compares what Docker reports of its network with the plan's
// docker bridge (Address is the gateway with the subnet's prefix, FixedCIDR
// the IP range, Subnet, MTU) and returns one line per difference, naming both
// values, e.g. `Docker's network "bridge" has gateway 172.17.0.1, the plan
// 172.17.0.2`. No lines: Docker matches the plan (see also DockerICC).
func DockerDiff(want DockerBridge, have DockerNetwork) []string {
	var out []string
	add := func(what, haveV, wantV string) {
		out = append(out, fmt.Sprintf("Docker's network %q has %s %s, the plan %s", have.Name, what, haveV, wantV))
	}
	if gw := want.Address.Addr(); have.Gateway != gw {
		add("gateway", orNone(have.Gateway.IsValid(), have.Gateway.String(), "none"), gw.String())
	}
	if have.Subnet != want.Subnet {
		add("subnet", orNone(have.Subnet.IsValid(), have.Subnet.String(), "none"), want.Subnet.String())
	}
	if have.IPRange != want.FixedCIDR {
		add("IP range", orNone(have.IPRange.IsValid(), have.IPRange.String(), "none (the whole subnet)"), want.FixedCIDR.String())
	}
	if have.MTU != want.MTU {
		add("MTU", orNone(have.MTU != 0, fmt.Sprint(have.MTU), "unset"), fmt.Sprint(want.MTU))
	}
	return out
}

// DockerICC returns why Docker's network with enable_icc false (daemon.json
// "icc": false) breaks the mesh, or "" when icc is on: the mesh's frames are
// bridged between the OVS bridge's port and the containers' ports of the
// docker bridge, and Docker drops traffic between the ports of such a network.
func DockerICC(want DockerBridge, have DockerNetwork) string {
	if have.ICC {
		return ""
	}
	return fmt.Sprintf("Docker's network %q has enable_icc false (daemon.json \"icc\": false), the plan needs true: %s", have.Name, DockerICCWhy(want))
}

// DockerICCWhy says why the mesh needs icc on the docker bridge.
func DockerICCWhy(want DockerBridge) string {
	return fmt.Sprintf("Docker's inter-container DROP rule in the FORWARD chain (-i %s -o %s -j DROP) also drops the mesh's traffic, "+
		"bridged between %s and the containers on %s, when br_netfilter is loaded", want.Name, want.Name, want.Port, want.Name)
}

// DockerICCFix is how to fix icc false: let Docker forward between the
// bridge's ports again, or accept the mesh's frames (those that enter or leave
// through the OVS bridge's port) in DOCKER-USER, which FORWARD jumps to first.
func DockerICCFix(want DockerBridge) string {
	return fmt.Sprintf(`drop "icc": false from daemon.json and restart Docker, or accept the mesh's frames in DOCKER-USER `+
		`(iptables -I DOCKER-USER -m physdev --physdev-in %s -j ACCEPT; iptables -I DOCKER-USER -m physdev --physdev-out %s -j ACCEPT)`, want.Port, want.Port)
}

func orNone(ok bool, v, none string) string {
	if ok {
		return v
	}
	return none
}
