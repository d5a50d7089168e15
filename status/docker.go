package status

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"text/tabwriter"

	"github.com/ovsmesh/ovsmesh/dockerapi"
	"github.com/ovsmesh/ovsmesh/topology"
)

// Docker is what status shows of Docker: its network on the docker
// bridge as Docker reports it, beside the plan (with a topology), and every
// difference between them.
type Docker struct {
	Host string `json:"host"`
	// Error: Docker could not be read ("Docker not reachable at ...", or no
	// network on the bridge).
	Error       string                  `json:"error,omitempty"`
	Network     *topology.DockerNetwork `json:"network,omitempty"`
	Plan        *DockerPlan             `json:"plan,omitempty"`
	Differences []string                `json:"differences,omitempty"`
}

// DockerPlan is the part of the plan Docker's network should show.
type DockerPlan struct {
	Bridge  string       `json:"bridge"`
	Gateway netip.Addr   `json:"gateway"`
	Subnet  netip.Prefix `json:"subnet"`
	IPRange netip.Prefix `json:"ip_range"`
	MTU     int          `json:"mtu"`
}

// collectDocker reads Docker's network on bridge at host and compares it with
// want (nil: no topology). It never fails: what went wrong is in Error.
func collectDocker(ctx context.Context, host, bridge string, want *topology.DockerBridge) *Docker {
	d := &Docker{Host: host}
	if want != nil {
		bridge = want.Name
		d.Plan = &DockerPlan{Bridge: want.Name, Gateway: want.Address.Addr(), Subnet: want.Subnet, IPRange: want.FixedCIDR, MTU: want.MTU}
	}
	c, err := dockerapi.New(host)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	defer c.Close()
	n, err := c.Network(ctx, bridge)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	d.Network = &n
	if want != nil {
		d.Differences = topology.DockerDiff(*want, n)
	}
	if icc := topology.DockerICC(topology.DockerBridge{Name: bridge, Port: portOf(want)}, n); icc != "" {
		d.Differences = append(d.Differences, icc)
	}
	return d
}

func portOf(want *topology.DockerBridge) string {
	if want == nil {
		return "the OVS bridge's port"
	}
	return want.Port
}

// writeDocker writes Docker's network as a small table beside the plan,
// then one line per difference.
func writeDocker(w io.Writer, d *Docker) {
	if d.Error != "" {
		fmt.Fprintf(w, "docker: %s\n", d.Error)
		return
	}
	n := d.Network
	fmt.Fprintf(w, "docker: network %q on %s (%s)\n", n.Name, n.Bridge, d.Host)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(what, docker, plan string) { fmt.Fprintf(tw, "  %s\t%s\t%s\n", what, docker, plan) }
	if p := d.Plan; p != nil {
		row("", "DOCKER", "PLAN")
		row("gateway", addrOr(n.Gateway), addrOr(p.Gateway))
		row("subnet", prefixOr(n.Subnet), prefixOr(p.Subnet))
		row("ip range", prefixOr(n.IPRange), prefixOr(p.IPRange))
		row("mtu", mtuOr(n.MTU), mtuOr(p.MTU))
		row("icc", fmt.Sprint(n.ICC), "true")
	} else {
		row("gateway", addrOr(n.Gateway), "")
		row("subnet", prefixOr(n.Subnet), "")
		row("ip range", prefixOr(n.IPRange), "")
		row("mtu", mtuOr(n.MTU), "")
		row("icc", fmt.Sprint(n.ICC), "")
	}
	tw.Flush()
	for _, diff := range d.Differences {
		fmt.Fprintf(w, "  differs: %s\n", diff)
	}
	if d.Plan != nil && len(d.Differences) == 0 {
		fmt.Fprintln(w, "  matches the plan")
	}
}

func addrOr(a netip.Addr) string {
	if !a.IsValid() {
		return "none"
	}
	return a.String()
}

func prefixOr(p netip.Prefix) string {
	if !p.IsValid() {
		return "none"
	}
	return p.String()
}

func mtuOr(m int) string {
	if m == 0 {
		return "unset"
	}
	return fmt.Sprint(m)
}
