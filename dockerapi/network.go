package dockerapi

import (
	"strconv"

	"github.com/moby/moby/api/types/network"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Options of a bridge network that Docker reports (Options of GET /networks/NAME).
const (
	optBridgeName = "com.docker.network.bridge.name"
	optICC        = "com.docker.network.bridge.enable_icc"
	optMTU        = "com.docker.network.driver.mtu"
)

// bridgeName is the Linux bridge of one of Docker's bridge networks: its
// bridge name option, else Docker's own name for it ("br-" and the first 12
// characters of the network's ID).
func bridgeName(n network.Network) string {
	if b := n.Options[optBridgeName]; b != "" {
		return b
	}
	if len(n.ID) >= 12 {
		return "br-" + n.ID[:12]
	}
	return ""
}

// convert turns Docker's answer into what ovsmesh compares with its plan: the
// first IPv4 entry of IPAM.Config (Docker 20.10 reports one entry for its
// default network), the MTU and enable_icc options. An option Docker does not
// report reads as Docker's default: no MTU (0), icc true.
func convert(n network.Network) topology.DockerNetwork {
	out := topology.DockerNetwork{Name: n.Name, Bridge: bridgeName(n), ICC: true}
	for _, c := range n.IPAM.Config {
		if c.Subnet.Addr().Is4() {
			out.Subnet, out.IPRange, out.Gateway = c.Subnet, c.IPRange, c.Gateway
			break
		}
	}
	out.MTU, _ = strconv.Atoi(n.Options[optMTU])
	if v, err := strconv.ParseBool(n.Options[optICC]); err == nil {
		out.ICC = v
	}
	return out
}
