package status

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/vishvananda/netlink"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/firewall"
	"github.com/ovsmesh/ovsmesh/linuxbridge"
	"github.com/ovsmesh/ovsmesh/openflow"
	"github.com/ovsmesh/ovsmesh/ovsdb"
	"github.com/ovsmesh/ovsmesh/topology"
)

// Report is what `ovsmesh status` shows; -o json prints it as is.
type Report struct {
	OVS     ovsdb.Status           `json:"ovs"`
	Flows   map[string]int         `json:"flows"` // bridge → flows with ovsmesh's cookie
	Docker  *linuxbridge.LinkState `json:"docker,omitempty"`
	Port    *linuxbridge.LinkState `json:"docker_port,omitempty"`
	Drift   []string               `json:"drift,omitempty"` // with a topology: what apply would change
	Matches *bool                  `json:"matches_plan,omitempty"`
	Errors  []string               `json:"errors,omitempty"`
	Fleet   *FleetView             `json:"fleet,omitempty"` // with a saved fleet view
	// Firewall is ovsmesh's nftables table: each rule with the packets it
	// dropped (nil: no such table).
	Firewall []firewall.RuleState `json:"firewall,omitempty"`
	// Identity is the per-container identity table (nil: no such table).
	Identity *Identity `json:"identity,omitempty"`
	// Paths are, in a mesh with bfd: true, the path frames to each tunnel's
	// peer take now (see topology.ChoosePath), by tunnel.
	Paths map[string]TunnelPath `json:"paths,omitempty"`
	// DockerNet is what Docker reports of its network on the docker bridge,
	// beside the plan (with a topology).
	DockerNet *Docker `json:"docker_network,omitempty"`
	// Networks are the plan's Docker networks (with a topology that has any).
	Networks []Network `json:"networks,omitempty"`
}

// TunnelPath is the path to one tunnel's peer: direct, relayed (via a relay's
// tunnel) or down.
type TunnelPath struct {
	Path string `json:"path"`
	Via  string `json:"via,omitempty"`
	// NoRelay: frames go straight out of the tunnel, without a relay choice:
	// its BFD session was never up (see topology.PathPolicy), or the pair has no
	// relay (a two-host mesh).
	NoRelay bool `json:"no_relay,omitempty"`
}

// FleetView is the saved fleet view a host applies: hosts whose revisions agree
// apply the same view.
type FleetView struct {
	View     string   `json:"view_file"`
	Cluster  string   `json:"cluster,omitempty"`
	Revision int64    `json:"revision"` // 0: saved by an older ovsmesh, unknown
	Hosts    []string `json:"hosts"`
}

// Drifter tells what a pass would change, changing nothing
// (controller.Reconciler.Drift).
type Drifter interface {
	Drift(ctx context.Context, t *topology.Topology) controller.Result
}

// Plan is the topology a host is compared with.
type Plan struct {
	Topology *topology.Topology
	Want     topology.HostState // this host's desired state in Topology
	Drift    Drifter
}

// Options say what Collect reads.
type Options struct {
	DB   *ovsdb.Client // connected
	Plan *Plan         // nil: no topology, no drift
	// DockerBridge is, without a plan, the Linux bridge to show.
	DockerBridge string
	// DockerHost is Docker's API address (see dockerapi.New).
	DockerHost string
	Log        *slog.Logger
}

// Collect reads the host's state. An error is a state it could not read at all
// (OVSDB, netlink); what one part could not read is in the report's Errors.
func Collect(ctx context.Context, o Options) (*Report, error) {
	rep := &Report{Flows: map[string]int{}}
	var err error
	if rep.OVS, err = o.DB.State(ctx); err != nil {
		return nil, err
	}
	for _, b := range rep.OVS.Bridges {
		table := openflow.New(b.Name, o.Log)
		n, err := table.Count(ctx)
		if err != nil {
			rep.Errors = append(rep.Errors, err.Error())
			continue
		}
		rep.Flows[b.Name] = n
		if err := addPaths(ctx, rep, b, table); err != nil {
			rep.Errors = append(rep.Errors, err.Error())
		}
	}
	dockerBridge, port := o.DockerBridge, topology.DefaultBridge
	var wantDocker *topology.DockerBridge
	if o.Plan != nil {
		dockerBridge, port, wantDocker = o.Plan.Want.Docker.Name, o.Plan.Want.Docker.Port, &o.Plan.Want.Docker
	} else if len(rep.OVS.Bridges) == 1 {
		port = rep.OVS.Bridges[0].Name
	}
	if err := addLinks(ctx, rep, dockerBridge, port, o.Log); err != nil {
		return nil, err
	}
	rules, ok, err := firewall.New(o.Log).State(ctx, topology.FirewallTable)
	switch {
	case err != nil:
		rep.Errors = append(rep.Errors, fmt.Sprintf("read table inet %s: %v", topology.FirewallTable, err))
	case ok:
		rep.Firewall = rules
	}
	rep.Identity = collectIdentity(ctx, rep, o.Log)
	rep.DockerNet = collectDocker(ctx, o.DockerHost, dockerBridge, wantDocker)
	if o.Plan != nil {
		rep.Networks = collectNetworks(ctx, o.DockerHost, o.Plan.Want.Networks)
		addDrift(rep, o.Plan.Drift.Drift(ctx, o.Plan.Topology))
	}
	return rep, nil
}

// addLinks adds the docker bridge and its port as the kernel reports them.
func addLinks(ctx context.Context, rep *Report, bridge, port string, log *slog.Logger) error {
	nl, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("open netlink: %w", err)
	}
	defer nl.Close()
	br, p, err := linuxbridge.New(nl, log).State(ctx, bridge, port)
	if err != nil {
		rep.Errors = append(rep.Errors, fmt.Sprintf("read %s: %v", bridge, err))
	} else {
		rep.Docker, rep.Port = &br, &p
	}
	return nil
}

// addDrift adds what a pass would change, and whether the host matches the
// plan: nothing to change and no step failed.
func addDrift(rep *Report, res controller.Result) {
	for _, s := range res.Steps {
		for _, ch := range s.Changes {
			rep.Drift = append(rep.Drift, s.Name+": "+ch)
		}
		if s.Err != nil && s.Name != controller.StepDocker { // the docker section names it
			rep.Errors = append(rep.Errors, s.Name+": "+s.Err.Error())
		}
	}
	ok := len(rep.Drift) == 0 && res.Err() == nil
	rep.Matches = &ok
}

// addPaths adds to rep the path to each peer of a bridge whose table relays:
// the choice TableSend's bundle_load makes on the tunnels' BFD forwarding.
func addPaths(ctx context.Context, rep *Report, b ovsdb.BridgeStatus, table *openflow.Table) error {
	members, err := table.Paths(ctx)
	if err != nil || len(members) == 0 {
		return err
	}
	name := map[int]string{}
	alive := map[string]bool{}
	for _, p := range b.Ports {
		name[p.OFPort] = p.Name
		s := p.BFDState()
		alive[p.Name] = s != nil && s.Forwarding
	}
	if rep.Paths == nil {
		rep.Paths = map[string]TunnelPath{}
	}
	for port, ports := range members {
		names := make([]string, len(ports))
		for i, p := range ports {
			names[i] = name[p]
		}
		if len(ports) == 1 {
			rep.Paths[name[port]] = TunnelPath{Path: topology.PathDirect, NoRelay: true}
			continue
		}
		path, via := topology.ChoosePath(name[port], names, func(t string) bool { return alive[t] })
		rep.Paths[name[port]] = TunnelPath{Path: path, Via: via}
	}
	return nil
}
