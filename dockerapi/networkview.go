package dockerapi

import (
	"context"

	"github.com/moby/moby/client"
)

// How Docker has a network of the plan (NetworkViews).
const (
	NetworkMissing = "missing" // Docker has no network of that name
	NetworkOurs    = "ours"    // ovsmesh made it (topology.ManagedLabel)
	NetworkExists  = "exists"  // a network of that name that ovsmesh did not make
)

// NetworkViews returns, by name, how Docker has each of names: NetworkOurs,
// NetworkExists or NetworkMissing. It reads one list of networks and changes
// nothing. Docker not answering is an *UnreachableError.
func (c *Client) NetworkViews(ctx context.Context, names []string) (map[string]string, error) {
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	list, err := c.api.NetworkList(tctx, client.NetworkListOptions{})
	if err != nil {
		return nil, c.fail(ctx, "list networks", err)
	}
	out := map[string]string{}
	for _, name := range names {
		out[name] = NetworkMissing
	}
	for _, n := range list.Items {
		if _, ok := out[n.Name]; !ok {
			continue
		}
		out[n.Name] = NetworkExists
		if managed(n.Network) {
			out[n.Name] = NetworkOurs
		}
	}
	return out, nil
}
