package dockerapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Labels ovsmesh puts on the Docker networks it creates. Only a network with
// topology.ManagedLabel=true is ever changed or deleted; the plan label is a
// digest of the settings it was created with.
const (
	labelPlan  = "org.ovsmesh.plan"
	labelOwner = "org.ovsmesh.owner"
)

// networkSettings is what ovsmesh sets on a Docker network and compares.
type networkSettings struct {
	Driver, Bridge, Subnet, IPRange, Gateway, MTU string
}

func wantSettings(n topology.NetworkState) networkSettings {
	return networkSettings{Driver: "bridge", Bridge: n.Bridge, Subnet: n.Subnet.String(),
		IPRange: n.IPRange.String(), Gateway: n.Gateway.String(), MTU: strconv.Itoa(n.MTU)}
}

// haveSettings reads the settings of a Docker network (its first IPv4 IPAM entry).
func haveSettings(n network.Network) networkSettings {
	s := networkSettings{Driver: n.Driver, Bridge: n.Options[optBridgeName], MTU: n.Options[optMTU]}
	str := func(v interface {
		IsValid() bool
		String() string
	}) string {
		if !v.IsValid() {
			return "none"
		}
		return v.String()
	}
	s.Subnet, s.IPRange, s.Gateway = "none", "none", "none"
	for _, c := range n.IPAM.Config {
		if c.Subnet.Addr().Is4() {
			s.Subnet, s.IPRange, s.Gateway = str(c.Subnet), str(c.IPRange), str(c.Gateway)
			break
		}
	}
	if s.MTU == "" {
		s.MTU = "none"
	}
	return s
}

// diffs names each setting in which have differs from want.
func (want networkSettings) diffs(have networkSettings) []string {
	var out []string
	for _, f := range []struct{ name, have, want string }{
		{"driver", have.Driver, want.Driver}, {"bridge", have.Bridge, want.Bridge},
		{"subnet", have.Subnet, want.Subnet}, {"IP range", have.IPRange, want.IPRange},
		{"gateway", have.Gateway, want.Gateway}, {"MTU", have.MTU, want.MTU},
	} {
		if f.have != f.want {
			out = append(out, fmt.Sprintf("%s %s, the plan %s", f.name, f.have, f.want))
		}
	}
	return out
}

// digest is the plan label's value: a digest of the settings.
func (want networkSettings) digest() string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%+v", want))
	return hex.EncodeToString(sum[:6])
}

// managed reports whether ovsmesh created the network.
func managed(n network.Network) bool { return n.Labels[topology.ManagedLabel] == "true" }

// EnsureNetworks makes Docker's networks match want, the host's networks of the
// plan, and returns one line per change ("create Docker network app ...");
// none when they already matched, in which case it made no change. In order:
//   - a network of the plan that Docker lacks is created: driver bridge, IPAM
//     subnet, IP range (the host's slice) and gateway, options bridge name and
//     MTU, and labels saying that ovsmesh made it (topology.ManagedLabel), for
//     which host and from which settings;
//   - a network of the plan's name without ovsmesh's label is an error, never
//     touched;
//   - an ovsmesh network whose settings differ is recreated when no container is
//     attached to it, else the difference is an error;
//   - an ovsmesh network no longer in the plan is deleted when no container is
//     attached to it, else that is an error.
//
// Every network is handled even when another fails; the errors are joined. With
// dryRun it only reads. Docker not answering is an *UnreachableError.
func (c *Client) EnsureNetworks(ctx context.Context, want []topology.NetworkState, dryRun bool) ([]string, error) {
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	list, err := c.api.NetworkList(tctx, client.NetworkListOptions{})
	if err != nil {
		return nil, c.fail(ctx, "list networks", err)
	}
	byName := map[string]network.Network{}
	for _, n := range list.Items {
		byName[n.Name] = n.Network
	}
	var lines []string
	var errs []error
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w.Name] = true
		l, err := c.ensureNetwork(ctx, w, byName, dryRun)
		lines, errs = append(lines, l...), append(errs, err)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for name := range byName {
			if !yield(name) {
				return
			}
		}
	})
	for _, name := range names {
		if n := byName[name]; managed(n) && !wanted[name] {
			l, err := c.dropNetwork(ctx, n, dryRun)
			lines, errs = append(lines, l...), append(errs, err)
		}
	}
	return lines, errors.Join(errs...)
}

// ensureNetwork handles one network of the plan.
func (c *Client) ensureNetwork(ctx context.Context, w topology.NetworkState, byName map[string]network.Network, dryRun bool) ([]string, error) {
	ws := wantSettings(w)
	have, ok := byName[w.Name]
	switch {
	case !ok:
		return c.createNetwork(ctx, w, ws, dryRun)
	case !managed(have):
		return nil, fmt.Errorf("Docker network %q exists and is not ovsmesh's (no label %s=true): not touching it; remove it (docker network rm %s) or give the topology's network another name", w.Name, topology.ManagedLabel, w.Name)
	}
	diffs := ws.diffs(haveSettings(have))
	if len(diffs) == 0 {
		return nil, nil
	}
	what := fmt.Sprintf("Docker network %q has %s", w.Name, strings.Join(diffs, ", "))
	attached, err := c.attached(ctx, have.ID)
	if err != nil {
		return nil, err
	}
	if len(attached) > 0 {
		return nil, fmt.Errorf("%s, but containers are attached (%s): not recreating it; once they are stopped or disconnected the next pass recreates it", what, strings.Join(attached, ", "))
	}
	line := fmt.Sprintf("recreate Docker network %q: it has %s", w.Name, strings.Join(diffs, ", "))
	if dryRun {
		return []string{line}, nil
	}
	if err := c.removeNetwork(ctx, have); err != nil {
		return nil, err
	}
	if _, err := c.createNetwork(ctx, w, ws, false); err != nil {
		return []string{"delete Docker network " + strconv.Quote(w.Name) + " (to recreate it)"}, err
	}
	return []string{line}, nil
}

// createNetwork creates one network of the plan.
func (c *Client) createNetwork(ctx context.Context, w topology.NetworkState, ws networkSettings, dryRun bool) ([]string, error) {
	line := fmt.Sprintf("create Docker network %q: bridge %s, subnet %s, IP range %s, gateway %s, MTU %d", w.Name, w.Bridge, w.Subnet, w.IPRange, w.Gateway, w.MTU)
	if dryRun {
		return []string{line}, nil
	}
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, err := c.api.NetworkCreate(tctx, w.Name, client.NetworkCreateOptions{
		Driver: "bridge",
		IPAM: &network.IPAM{Driver: "default", Config: []network.IPAMConfig{
			{Subnet: w.Subnet, IPRange: w.IPRange, Gateway: w.Gateway}}},
		Options: map[string]string{optBridgeName: w.Bridge, optMTU: strconv.Itoa(w.MTU)},
		Labels:  map[string]string{topology.ManagedLabel: "true", labelOwner: w.Owner, labelPlan: ws.digest()},
	})
	if err != nil {
		return nil, c.fail(ctx, fmt.Sprintf("create network %q", w.Name), err)
	}
	return []string{line}, nil
}

// dropNetwork deletes an ovsmesh network that is no longer in the plan, unless
// containers are attached to it.
func (c *Client) dropNetwork(ctx context.Context, n network.Network, dryRun bool) ([]string, error) {
	attached, err := c.attached(ctx, n.ID)
	if err != nil {
		return nil, err
	}
	if len(attached) > 0 {
		return nil, fmt.Errorf("Docker network %q (ovsmesh's) is no longer in the topology, but containers are attached (%s): not deleting it; once they are stopped or disconnected the next pass deletes it", n.Name, strings.Join(attached, ", "))
	}
	line := fmt.Sprintf("delete Docker network %q (ovsmesh's, no longer in the topology)", n.Name)
	if dryRun {
		return []string{line}, nil
	}
	if err := c.removeNetwork(ctx, n); err != nil {
		return nil, err
	}
	return []string{line}, nil
}

func (c *Client) removeNetwork(ctx context.Context, n network.Network) error {
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if _, err := c.api.NetworkRemove(tctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
		return c.fail(ctx, fmt.Sprintf("remove network %q", n.Name), err)
	}
	return nil
}

// attached returns the names of the containers attached to a network, sorted
// (Docker's list of networks does not say; inspecting one does).
func (c *Client) attached(ctx context.Context, id string) ([]string, error) {
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	res, err := c.api.NetworkInspect(tctx, id, client.NetworkInspectOptions{})
	if err != nil {
		return nil, c.fail(ctx, fmt.Sprintf("inspect network %s", id), err)
	}
	var names []string
	for id, e := range res.Network.Containers {
		name := e.Name
		if name == "" {
			name = id
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}
