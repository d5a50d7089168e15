package ovsdb

import (
	"context"
	"errors"
	"slices"

	"github.com/ovsmesh/ovsmesh/topology"
)

// ApplyBridgeFirst is Apply (never a dry run) for a caller that installs the
// bridge's flow table beside OVSDB. When the database has no bridge of want's
// name, and no other bridge of this host's to delete, the bridge goes in first
// in a transaction of its own (its settings and its internal port, none of its
// other ports), and created is called once ovs-vswitchd has made it, with an
// empty flow table; the tunnels and other ports follow in a second transaction,
// waited for likewise, while the caller sends the flows: Open vSwitch takes
// flows that name ports it does not have yet, and adding ports leaves them
// alone. At 1000 hosts a host's first pass then installs its 14,000 flows while
// ovs-vswitchd makes the 999 tunnels, not after. Otherwise it is Apply, and
// created is not called; nor is it when the first transaction fails. Its lines
// are both transactions', sorted as Apply's.
func (c *Client) ApplyBridgeFirst(ctx context.Context, want topology.OVSState, created func()) ([]string, error) {
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	if !c.bridgeMissing(ctx, want) {
		return c.apply(ctx, want, false)
	}
	alone := want
	alone.Tunnels, alone.Internal = nil, nil
	lines, err := c.apply(ctx, alone, false)
	switch {
	case err == nil:
		created()
	case len(lines) == 0:
		return nil, err // nothing sent: the second transaction would fail alike
	}
	// The bridge went in, perhaps with an error (ovs-vswitchd late, its
	// interface refused): the rest goes in as one Apply would have sent it.
	more, err2 := c.apply(ctx, want, false)
	lines = append(lines, more...)
	slices.Sort(lines)
	return lines, errors.Join(err, err2)
}

// bridgeMissing says whether the database, as the cache has it, has no bridge
// of want's name and no other bridge of this host's (a bridge renamed: its
// deletion and the new bridge's tunnels stay one transaction). It reads the
// bridges alone: every pass of a mesh's loop asks.
func (c *Client) bridgeMissing(ctx context.Context, want topology.OVSState) bool {
	if want.Bridge == "" || want.Owner == "" {
		return false // Apply says why
	}
	t, err := c.readBridges(ctx)
	if err != nil || t.Root.UUID == "" {
		return false
	}
	snap := snapshotOf(t, want.Bridge)
	return snap.Bridge == nil && len(staleBridges(want, snap)) == 0
}
