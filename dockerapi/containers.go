package dockerapi

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Containers returns the containers Docker has on the bridge networks whose
// Linux bridge is bridge: for each endpoint its container's ID and name, the
// network, the endpoint's MAC and addresses as Docker assigned them, and the
// pid of the container's process (0 while it has none). Veth is left empty:
// the host-side interface is the kernel's to tell (linuxbridge.Veths). The
// list is sorted by container name; none when no network uses the bridge.
//
// It reads only: one list of networks, one inspect of each network on the
// bridge and one of each of its containers. A container that goes away
// between the two reads is left out. Errors: *UnreachableError when Docker
// does not answer.
func (c *Client) Containers(ctx context.Context, bridge string) ([]topology.Container, error) {
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	list, err := c.api.NetworkList(tctx, client.NetworkListOptions{})
	if err != nil {
		return nil, c.fail(ctx, "list networks", err)
	}
	var out []topology.Container
	for _, n := range list.Items {
		if n.Driver != "bridge" || bridgeName(n.Network) != bridge {
			continue
		}
		res, err := c.api.NetworkInspect(tctx, n.ID, client.NetworkInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			continue // removed since the list
		}
		if err != nil {
			return nil, c.fail(ctx, fmt.Sprintf("inspect network %q", n.Name), err)
		}
		for id, ep := range res.Network.Containers {
			ct, ok, err := c.container(tctx, ctx, id, n.Name, bridge, ep)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, ct)
			}
		}
	}
	slices.SortFunc(out, func(a, b topology.Container) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Network, b.Network))
	})
	return out, nil
}

// container completes an endpoint of a network with its container's pid;
// false when the container is gone.
func (c *Client) container(tctx, ctx context.Context, id, netName, bridge string, ep network.EndpointResource) (topology.Container, bool, error) {
	ct := endpoint(id, netName, bridge, ep)
	res, err := c.api.ContainerInspect(tctx, id, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return ct, false, nil
	}
	if err != nil {
		return ct, false, c.fail(ctx, fmt.Sprintf("inspect container %s", ct.Name), err)
	}
	if s := res.Container.State; s != nil && s.Running {
		ct.Pid = s.Pid
	}
	return ct, true, nil
}

// endpoint converts one entry of a network's Containers (Docker 20.10 writes
// "172.17.0.2/16" and "" for no IPv6 address) into a topology.Container.
func endpoint(id, netName, bridge string, ep network.EndpointResource) topology.Container {
	return topology.Container{
		ID:      id,
		Name:    strings.TrimPrefix(ep.Name, "/"),
		Network: netName,
		Bridge:  bridge,
		MAC:     strings.ToLower(ep.MacAddress.String()),
		IPv4:    ep.IPv4Address.Addr(),
		IPv6:    ep.IPv6Address.Addr(),
	}
}
