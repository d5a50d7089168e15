package ovsdb

import (
	"fmt"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
	"github.com/ovsmesh/ovsmesh/topology"
)

// networkPorts are the bridge's internal ports of the host's Docker networks
// (topology.OVSState.Internal): owned like the tunnels (a port of that name that
// is not ovsmesh's is refused, one no longer planned is deleted), with the
// bridge's MTU and a pinned OpenFlow port, which the flows of the network's
// pipeline name.
func networkPorts(w topology.OVSState, owner map[string]string) []portWant {
	ports := make([]portWant, 0, len(w.Internal))
	for _, p := range w.Internal {
		pw := portWant{
			Port:  vswitchd.Port{Name: p.Name, ExternalIDs: owner},
			Iface: vswitchd.Interface{Name: p.Name, Type: "internal", ExternalIDs: owner},
			Cols:  []string{"type", "mtu_request", "ofport_request"},
			What:  fmt.Sprintf("internal port %q of a Docker network", p.Name),
		}
		if w.MTU > 0 {
			pw.Iface.MTURequest = &w.MTU
		}
		ofport := p.OFPort
		pw.Iface.OfportRequest = &ofport
		ports = append(ports, pw)
	}
	return ports
}
