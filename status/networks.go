package status

import (
	"context"
	"fmt"
	"io"

	"github.com/ovsmesh/ovsmesh/dockerapi"
	"github.com/ovsmesh/ovsmesh/topology"
)

// Network is one Docker network of the plan as status shows it: its Linux
// bridge and how Docker has it (dockerapi.NetworkOurs, NetworkExists,
// NetworkMissing, or "unknown" when Docker could not be read).
type Network struct {
	Name   string `json:"name"`
	Bridge string `json:"bridge"`
	Docker string `json:"docker"`
}

// collectNetworks reads how Docker at host has each network of want; none
// without networks. It never fails: Docker not read shows as "unknown" (the
// docker section says why).
func collectNetworks(ctx context.Context, host string, want []topology.NetworkState) []Network {
	if len(want) == 0 {
		return nil
	}
	var views map[string]string
	if c, err := dockerapi.New(host); err == nil {
		names := make([]string, len(want))
		for i, n := range want {
			names[i] = n.Name
		}
		views, _ = c.NetworkViews(ctx, names)
		c.Close()
	}
	out := make([]Network, len(want))
	for i, n := range want {
		out[i] = Network{Name: n.Name, Bridge: n.Bridge, Docker: "unknown"}
		if v, ok := views[n.Name]; ok {
			out[i].Docker = v
		}
	}
	return out
}

// writeNetworks writes one line per network of the plan.
func writeNetworks(w io.Writer, nets []Network) {
	for _, n := range nets {
		fmt.Fprintf(w, "network %s: bridge %s; Docker: %s\n", n.Name, n.Bridge, n.Docker)
	}
}
