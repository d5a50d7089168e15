package controller

import (
	"context"
	"errors"

	"github.com/ovsmesh/ovsmesh/topology"
)

// DockerNetworks keeps the host's Docker networks as the plan lists them
// (dockerapi.Client): it creates them, and recreates or deletes only the ones
// ovsmesh made with no container attached. An error whose Unavailable method
// reports true means that Docker did not answer.
type DockerNetworks interface {
	EnsureNetworks(ctx context.Context, want []topology.NetworkState, dryRun bool) ([]string, error)
}

// NetworkPorts joins the Linux bridges Docker built for the networks to their
// OVS internal ports (linuxbridge.Bridge).
type NetworkPorts interface {
	AttachNetworks(ctx context.Context, want []topology.NetworkState, dryRun bool) ([]string, error)
}

// StepNetworks is the step that keeps the Docker networks of the topology's
// networks list and joins them to the mesh.
const StepNetworks = "networks"

// applyNetworks is the networks step, after OVSDB (which creates the networks'
// internal ports) and before the flows: Docker's networks first (Docker builds
// their bridges), then their bridges joined to the OVS ports. A Reconciler
// without DockerNetworks has no such step; one runs even without networks in
// the plan, to delete the networks ovsmesh made that the plan no longer lists.
//
// Docker not answering is not a failure of the step (at boot Docker starts
// after ovsmesh, and waits for it): the step says so at debug level and the
// first pass after Docker answers creates the networks.
func (p *pass) applyNetworks(ctx context.Context) {
	if p.r.DockerNetworks == nil {
		return
	}
	run(ctx, &p.networks, StepNetworks, func() ([]string, error) {
		changes, err := p.r.DockerNetworks.EnsureNetworks(ctx, p.want.Networks, p.dryRun)
		if unavailable(err) {
			p.r.Log.Debug("networks: Docker not reachable, its networks wait", "host", p.r.Host, "err", err)
			return changes, nil
		}
		if p.r.NetworkPorts == nil || len(p.want.Networks) == 0 {
			return changes, err
		}
		more, err2 := p.r.NetworkPorts.AttachNetworks(ctx, p.want.Networks, p.dryRun)
		return append(changes, more...), errors.Join(err, err2)
	})
}
