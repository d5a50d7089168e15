package ovsdb

import (
	"context"
	"fmt"
	"strconv"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
	"github.com/ovsmesh/ovsmesh/topology"
)

// The RSTP role reselection that follows a pass that deleted ports of an RSTP
// bridge.
//
// OVS 3.1's RSTP removes a deleted port from the bridge without asking the
// remaining ports to reselect their roles: when the deleted port was the root
// port, the bridge keeps a root port that no longer exists and forwards nothing
// (ovs-appctl rstp/show: "unknown root port") until something else makes it
// reselect. A changed port priority, path cost or bridge priority does, but only
// in a later reconfiguration than the one that deleted the port: ovs-vswitchd
// applies the new port settings before it removes the port.
//
// So once ovs-vswitchd has applied a pass that deleted ports of an RSTP bridge,
// Apply sends two more transactions: one that changes other_config:
// rstp-port-priority of one remaining tunnel port (by one priority step, 16) and,
// once ovs-vswitchd applied it, one that restores the key as it was (absent, or
// the operator's value). A port's priority only breaks ties between two ports
// that hear the same designated bridge, which a mesh of one tunnel per pair of
// hosts never has, so the change leaves every port's role as RSTP would choose
// it; it only makes RSTP choose again. Passes that delete nothing, or bridges
// without RSTP, never see these transactions.

// portPriorityKey is the Port other_config key of the RSTP port priority.
const portPriorityKey = "rstp-port-priority"

// nudgePlan is the reselection a pass needs after it deleted ports under RSTP.
type nudgePlan struct {
	Port   string  // the remaining tunnel port whose priority changes
	Old    *string // its other_config:rstp-port-priority before; nil: absent
	Nudged string  // the value during the nudge
}

// diffNudge returns the nudge for a plan that deletes ports of an existing RSTP
// bridge, and its line; nil when none is needed.
func diffNudge(want topology.OVSState, have snapshot, deletes []portDelete) (*nudgePlan, string) {
	if !want.RSTP || have.Bridge == nil || len(deletes) == 0 {
		return nil, ""
	}
	var n *nudgePlan
	for _, t := range want.Tunnels {
		rows, exists := have.Ports[t.Name]
		_, taken := have.Taken[t.Name]
		if (!exists || rows.owned()) && !taken {
			n = &nudgePlan{Port: t.Name}
			break
		}
	}
	if n == nil {
		return nil, "" // no tunnel of ours remains: no role to choose
	}
	prio := 128 // RSTP's default port priority
	if rows, ok := have.Ports[n.Port]; ok {
		if v, ok := rows.Port.OtherConfig[portPriorityKey]; ok {
			n.Old = &v
			if p, err := strconv.Atoi(v); err == nil && p >= 0 && p <= 240 {
				prio = p
			}
		}
	}
	// RSTP rounds the priority down to a multiple of 16; flipping the 16 bit of
	// that gives another valid priority (0 to 240) whatever the old one was.
	n.Nudged = strconv.Itoa((prio - prio%16) ^ 16)
	line := fmt.Sprintf("reselect rstp roles on bridge %s (ports were deleted): port %s other_config:%s %s -> %s -> %s",
		want.Bridge, n.Port, portPriorityKey, orUnset(deref(n.Old)), n.Nudged, orUnset(deref(n.Old)))
	return n, line
}

// nudgeRSTP sends the two transactions of n, each waited for like Apply's own.
func (c *Client) nudgeRSTP(ctx context.Context, bridge string, n *nudgePlan) error {
	t, err := c.readTables(ctx)
	if err != nil {
		return fmt.Errorf("reselect rstp roles on bridge %q: %w", bridge, err)
	}
	rows, ok := snapshotOf(t, bridge).Ports[n.Port]
	if !ok {
		return fmt.Errorf("reselect rstp roles on bridge %q: port %q is gone", bridge, n.Port)
	}
	// The first step starts from what the database holds now, the second returns
	// to what the port had before the pass.
	var now *string
	if v, ok := rows.Port.OtherConfig[portPriorityKey]; ok {
		now = &v
	}
	steps := []keyChange{
		{Column: "other_config", Key: portPriorityKey, Old: now, New: &n.Nudged},
		{Column: "other_config", Key: portPriorityKey, Old: &n.Nudged, New: n.Old},
	}
	for _, k := range steps {
		ops, err := c.keyOps(rows.Port.UUID, t.Root.UUID, k)
		if err != nil {
			return fmt.Errorf("build the rstp reselection of bridge %q: %w", bridge, err)
		}
		cfg, err := c.transact(ctx, ops)
		if err != nil {
			return fmt.Errorf("set port %q %s to %s to reselect rstp roles: %w", n.Port, portPriorityKey, deref(k.New), err)
		}
		if err := c.waitApplied(ctx, cfg); err != nil {
			return fmt.Errorf("reselect rstp roles on bridge %q: %w", bridge, err)
		}
	}
	c.log.Debug("reselected rstp roles", "bridge", bridge, "port", n.Port, "priority", n.Nudged)
	return nil
}

// keyOps is one transaction that changes one other_config key of a port and
// bumps next_cfg, so that ovs-vswitchd reconfigures.
func (c *Client) keyOps(port, root string, k keyChange) ([]ovsdb.Operation, error) {
	b := &opsBuilder{api: c.ovs}
	p := &vswitchd.Port{UUID: port}
	b.add(c.ovs.Where(p).Mutate(p, keyMutations(&p.ExternalIDs, &p.OtherConfig, []keyChange{k})...))
	r := &vswitchd.OpenvSwitch{UUID: root}
	b.add(c.ovs.Where(r).Mutate(r, model.Mutation{Field: &r.NextCfg, Mutator: ovsdb.MutateOperationAdd, Value: 1}))
	b.add(c.ovs.Where(r).Select(r, &r.NextCfg))
	return b.ops, b.err
}
