package ovsdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
	"github.com/ovsmesh/ovsmesh/topology"
)

// pollInterval is how often Apply looks at the cache while it waits for
// ovs-vswitchd.
const pollInterval = 20 * time.Millisecond

// Apply makes the database match want: the bridge with the columns ovsmesh
// manages, its internal port and one port per tunnel, all marked as ovsmesh's;
// owned tunnel ports that want no longer lists are removed, other ports are never
// touched. It returns one line per change, sorted; none when the database already
// matched, in which case it sends no transaction at all. Otherwise it sends one
// transaction and waits (see WithVSwitchdTimeout) until ovs-vswitchd has applied
// it, then reports interfaces ovs-vswitchd could not set up. A pass that deletes
// owned ports clashing with ports it creates (same tunnel or ofport), or that
// recreates tunnels ovs-vswitchd refused, first deletes those in a transaction
// of its own, waited for likewise (see repair.go). A pass that deleted ports of
// an RSTP bridge then sends two more, each waited for, that make RSTP reselect
// port roles (OVS 3.1 keeps a deleted root port otherwise; see rstp.go).
//
// Wanted tunnels whose name is taken by a port that is not ovsmesh's are reported
// (errors wrapping ErrNotOwned or ErrNameTaken) while everything else is still
// applied. With dryRun, Apply returns the changes it would make and sends nothing.
// Apply is idempotent; concurrent calls run one after the other.
func (c *Client) Apply(ctx context.Context, want topology.OVSState, dryRun bool) ([]string, error) {
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	return c.apply(ctx, want, dryRun)
}

// apply is Apply; c.applyMu is held.
func (c *Client) apply(ctx context.Context, want topology.OVSState, dryRun bool) ([]string, error) {
	if want.Bridge == "" || want.Owner == "" {
		return nil, fmt.Errorf("apply ovs state: bridge %q and owner %q must both be set", want.Bridge, want.Owner)
	}
	if !c.connected() {
		return nil, fmt.Errorf("apply bridge %q: %w", want.Bridge, notConnected{c.endpoint})
	}
	t, err := c.readTables(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply bridge %q: %w", want.Bridge, err)
	}
	if t.Root.UUID == "" {
		return nil, fmt.Errorf("apply bridge %q: the database at %s has no Open_vSwitch row (run ovs-vsctl init)", want.Bridge, c.endpoint)
	}
	snap := snapshotOf(t, want.Bridge)
	if err := ownership(want, snap, c.takeOver); err != nil {
		return nil, err // nothing else is planned: the host may not be ours
	}
	snap.Recreated = c.recreated
	p := diff(want, snap)
	conflicts := errors.Join(p.Errs...)
	if dryRun {
		return p.Lines, conflicts
	}
	snap.Recreated = c.remember(p) // what the errors of this pass say
	if p.empty() {
		c.log.Debug("ovsdb already matches", "bridge", want.Bridge, "tunnels", len(want.Tunnels))
		return nil, errors.Join(conflicts, errors.Join(healthErrors(snap, want)...))
	}
	ops, err := operations(c.ovs, p, snap.Root)
	if err != nil {
		return nil, errors.Join(conflicts, fmt.Errorf("build the transaction for bridge %q: %w", want.Bridge, err))
	}
	start := time.Now()
	if err := c.clear(ctx, p, snap.Root); err != nil {
		return nil, errors.Join(conflicts, fmt.Errorf("bridge %q: %w", want.Bridge, err))
	}
	cfg, err := c.transact(ctx, ops)
	if err != nil {
		return nil, errors.Join(conflicts, fmt.Errorf("apply %d changes to bridge %q: %w", len(p.Lines), want.Bridge, err))
	}
	c.log.Debug("applied ovsdb changes", "bridge", want.Bridge, "changes", p.Lines,
		"operations", len(ops), "duration", time.Since(start).Round(time.Microsecond))
	if err := c.waitApplied(ctx, cfg); err != nil {
		return p.Lines, errors.Join(conflicts, err)
	}
	if p.Nudge != nil {
		if err := c.nudgeRSTP(ctx, want.Bridge, p.Nudge); err != nil {
			return p.Lines, errors.Join(conflicts, err)
		}
	}
	t, err = c.readTables(ctx)
	if err != nil {
		return p.Lines, errors.Join(conflicts, fmt.Errorf("check bridge %q: %w", want.Bridge, err))
	}
	snap = snapshotOf(t, want.Bridge)
	snap.Recreated = c.recreated
	return p.Lines, errors.Join(conflicts, errors.Join(healthErrors(snap, want)...))
}

// remember keeps the tunnels p recreates for the next pass (see repair.go) and
// returns them.
func (c *Client) remember(p plan) map[string]bool {
	c.recreated = nil
	for _, name := range p.Recreated {
		if c.recreated == nil {
			c.recreated = map[string]bool{}
		}
		c.recreated[name] = true
	}
	return c.recreated
}

// Check reports whether Apply may change the bridge want names (see ownership): an
// error wrapping ErrForeignBridge or ErrOtherOwner when it may not, one whose
// Unavailable method reports true when ovsdb-server cannot be reached. It only
// reads the cache.
func (c *Client) Check(ctx context.Context, want topology.OVSState) error {
	if !c.connected() {
		return fmt.Errorf("check bridge %q: %w", want.Bridge, notConnected{c.endpoint})
	}
	t, err := c.readTables(ctx)
	if err != nil {
		return fmt.Errorf("check bridge %q: %w", want.Bridge, err)
	}
	return ownership(want, snapshotOf(t, want.Bridge), c.takeOver)
}

// transact sends one transaction and returns the next_cfg it set.
func (c *Client) transact(ctx context.Context, ops []ovsdb.Operation) (int, error) {
	c.transactions.Add(1)
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	res, err := c.ovs.Transact(ctx, ops...)
	if err != nil {
		return 0, fmt.Errorf("transaction of %d operations: %w", len(ops), err)
	}
	// Transact's nil error only means the server answered: the outcome of each
	// operation (and of the commit) is in the results.
	if opErrs, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		errs := []error{err}
		for _, e := range opErrs {
			errs = append(errs, e)
		}
		return 0, errors.Join(errs...)
	}
	var roots []*vswitchd.OpenvSwitch
	if err := c.ovs.GetSelectResults(ops, res, &roots); err != nil {
		return 0, fmt.Errorf("read next_cfg back from the transaction: %w", err)
	}
	if len(roots) != 1 {
		return 0, fmt.Errorf("read next_cfg back from the transaction: %d Open_vSwitch rows, want 1", len(roots))
	}
	return roots[0].NextCfg, nil
}

// waitApplied waits until the cache has seen next_cfg reach cfg (so that the next
// pass reads our own changes) and, unless disabled, until ovs-vswitchd has applied
// it: ovs-vswitchd sets cur_cfg to the next_cfg it reconfigured for, and writes
// ofport and error of new interfaces in the same transaction.
func (c *Client) waitApplied(ctx context.Context, cfg int) error {
	timeout := c.vswitchdTimeout
	waitVSwitchd := timeout > 0
	if !waitVSwitchd {
		timeout = DefaultVSwitchdTimeout
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		var roots []vswitchd.OpenvSwitch
		lctx, cancel := c.callContext(ctx) // List waits for a consistent cache
		err := c.ovs.List(lctx, &roots)
		cancel()
		if err != nil {
			return fmt.Errorf("wait for next_cfg=%d: %w", cfg, err)
		}
		var next, cur int
		if len(roots) > 0 {
			next, cur = roots[0].NextCfg, roots[0].CurCfg
		}
		if next >= cfg && (!waitVSwitchd || cur >= cfg) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for ovs-vswitchd to apply next_cfg=%d: %w", cfg, ctx.Err())
		case <-deadline.C:
			if next < cfg {
				return fmt.Errorf("the cache did not see next_cfg=%d within %s (it has %d)", cfg, timeout, next)
			}
			return fmt.Errorf("ovs-vswitchd did not apply the configuration within %s (next_cfg=%d, cur_cfg=%d): is ovs-vswitchd running?", timeout, cfg, cur)
		case <-tick.C:
		}
	}
}

// healthErrors reports the wanted interfaces that ovs-vswitchd could not set up:
// an error column, ofport -1, or an ofport other than the one requested (the flow
// table is written for the requested numbers), with the cause outside ovsmesh
// that the database shows, if any (see repair.go). Interfaces ovs-vswitchd has
// not reported on yet (no ofport) pass. It is pure.
func healthErrors(s snapshot, want topology.OVSState) []error {
	var errs []error
	for _, w := range wantedPorts(want) {
		rows, ok := s.Ports[w.Port.Name]
		if !ok || !(rows.owned() || w.Internal) {
			continue
		}
		i, ok := rows.home()
		why := refusal(i)
		if !ok || why == "" {
			continue
		}
		switch cause := outsideCause(w, s); {
		case cause != "":
			why += ": " + cause
		case w.Internal:
		case s.Recreated[w.Port.Name]:
			why += " (recreated by this pass; the next pass reports it, the one after recreates it again)"
		default:
			why += " (the next pass recreates it)"
		}
		errs = append(errs, fmt.Errorf("%s: %s", w.What, why))
	}
	return errs
}
