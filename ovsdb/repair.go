package ovsdb

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
)

// Tunnels ovs-vswitchd refused, and the clearing transaction that avoids and
// repairs them.
//
// ovs-vswitchd applies a transaction that deletes one port and creates another
// in one reconfiguration, and in OVS 3.1 the deleted port's tunnel and OpenFlow
// port number are only released after the new port was added. A new tunnel with
// the same type, remote_ip, local_ip, key and dst_port as a deleted one is
// refused: its interface gets ofport -1 and the error "could not add network
// device NAME to ofproto (File exists)" (the log says "attempting to add tunnel
// port with same config as port OLD"); a new port that requests the deleted
// one's ofport gets another number. That is what renaming a host at the same
// address (gre-h2 becomes gre-web2) and changing encap (gre-h2 becomes vx-h2,
// ofport_request unchanged) did. ovs-vswitchd does not retry a refused interface
// until it reconfigures again, and a pass that changes nothing does not make it
// reconfigure: the tunnel stayed refused for good.
//
// So a pass first deletes, in a transaction of its own that ovs-vswitchd must
// have applied (cur_cfg) before the main transaction is sent, the owned ports
// that clash with a port the pass creates or reconfigures (same tunnel or same
// ofport number), and the owned tunnels ovs-vswitchd refused, which the main
// transaction then creates again. The order is safe: the deleted ports are ones
// the topology no longer wants (or refused ones, which carry no traffic), and
// the ports that replace them follow within one more transaction; nothing that
// stays is touched by the first.
//
// A recreated tunnel keeps the operator's keys of the Port's external_ids and
// other_config and of the Interface's external_ids (the columns ovsmesh reads);
// columns ovsmesh does not read start from their defaults.
//
// A refused tunnel is not recreated when the database shows a cause ovsmesh does
// not own: a port that is not ovsmesh's with the same tunnel, or holding the
// requested ofport on the bridge. It is reported with that cause, and the loop
// retries with its backoff. Nor is a tunnel recreated by the client's previous
// pass and refused again: that pass reports it and sends nothing, so the loop's
// backoff, not the change the recreation itself makes, sets the pace of the
// next attempt.

// refusal returns why ovs-vswitchd did not set up interface i as asked: its
// error, ofport -1, or an ofport other than the one requested. "" when it did,
// or has not reported yet.
func refusal(i vswitchd.Interface) string {
	switch {
	case i.Error != nil && *i.Error != "":
		return "ovs-vswitchd reports: " + *i.Error
	case i.Ofport != nil && *i.Ofport == -1:
		return "ovs-vswitchd could not add it (ofport -1)"
	case i.Ofport != nil && i.OfportRequest != nil && *i.Ofport != *i.OfportRequest:
		return fmt.Sprintf("got ofport %d instead of ofport_request %d", *i.Ofport, *i.OfportRequest)
	}
	return ""
}

// tunnelKeys are the options that, with the type, make two tunnels the same for
// ovs-vswitchd: it refuses a second tunnel whose values all match.
var tunnelKeys = []string{"remote_ip", "local_ip", "key", "dst_port"}

// sameTunnel reports whether a and b are tunnels ovs-vswitchd cannot have both.
func sameTunnel(a, b vswitchd.Interface) bool {
	if a.Type != b.Type || a.Options["remote_ip"] == "" {
		return false
	}
	for _, k := range tunnelKeys {
		if a.Options[k] != b.Options[k] {
			return false
		}
	}
	return true
}

// sameOfport reports whether deleted holds, or asked for, the number want asks for.
func sameOfport(deleted, want vswitchd.Interface) bool {
	if want.OfportRequest == nil {
		return false
	}
	n := *want.OfportRequest
	return (deleted.OfportRequest != nil && *deleted.OfportRequest == n) || (deleted.Ofport != nil && *deleted.Ofport == n)
}

// outsideCause returns what, outside ovsmesh, makes ovs-vswitchd refuse the
// wanted tunnel w: a foreign port with the same tunnel, or one holding its
// ofport on the bridge. "" when the database shows none.
func outsideCause(w portWant, have snapshot) string {
	for _, f := range have.Foreign {
		if sameTunnel(f.Iface, w.Iface) {
			return fmt.Sprintf("it clashes with interface %q of %s, %s (same type, remote_ip, local_ip, key and dst_port)", f.Iface.Name, f.Where, whose(f))
		}
	}
	for _, f := range have.Foreign {
		if have.Bridge != nil && f.Bridge == have.Bridge.Name && w.Iface.OfportRequest != nil &&
			f.Iface.Ofport != nil && *f.Iface.Ofport == *w.Iface.OfportRequest {
			return fmt.Sprintf("ofport %d is held by interface %q of %s, %s", *f.Iface.Ofport, f.Iface.Name, f.Where, whose(f))
		}
	}
	return ""
}

func whose(f foreignIface) string {
	if f.Owned {
		return "an ovsmesh port of another bridge"
	}
	return "which is not ovsmesh's"
}

// diffRecreate plans the recreation of wanted tunnel w when ovs-vswitchd
// refused it and nothing outside ovsmesh explains why: a delete in the clearing
// transaction and a create in the main one. It reports false otherwise.
func diffRecreate(w portWant, have snapshot) (portDelete, portPlan, string, bool) {
	rows, ok := have.Ports[w.Port.Name]
	if w.Internal || !ok || !rows.owned() || have.Recreated[w.Port.Name] {
		return portDelete{}, portPlan{}, "", false
	}
	home, ok := rows.home()
	why := refusal(home)
	if !ok || why == "" || outsideCause(w, have) != "" {
		return portDelete{}, portPlan{}, "", false
	}
	line := fmt.Sprintf("recreate port %s%s (%s)", w.Port.Name, createFields(w), why)
	pp := portPlan{Create: true, Port: w.Port, Iface: w.Iface}
	// The operator's keys of the maps ovsmesh reads come back with the port.
	pp.Port.ExternalIDs = keepKeys(rows.Port.ExternalIDs, w.Port.ExternalIDs, nil)
	pp.Port.OtherConfig = keepKeys(rows.Port.OtherConfig, w.Port.OtherConfig, costKeys)
	pp.Iface.ExternalIDs = keepKeys(home.ExternalIDs, w.Iface.ExternalIDs, nil)
	return portDelete{UUID: rows.Port.UUID, Name: w.Port.Name}, pp, line, true
}

// keepKeys returns want with the keys of have that it lacks, but for managed
// ones (which only want decides); nil when empty.
func keepKeys(have, want map[string]string, managed []string) map[string]string {
	out := map[string]string{}
	for k, v := range have {
		if !slices.Contains(managed, k) {
			out[k] = v
		}
	}
	maps.Copy(out, want)
	if len(out) == 0 {
		return nil
	}
	return out
}

// splitClashes moves from p.Deletes to p.Clear the deleted ports that clash with
// a port p creates or whose type, options or ofport_request it changes.
func splitClashes(p *plan, have snapshot) {
	var arriving []vswitchd.Interface
	for _, pp := range p.Ports {
		if pp.Create || slices.ContainsFunc(pp.IfaceUpdate, func(c string) bool { return c != "mtu_request" }) {
			arriving = append(arriving, pp.Iface)
		}
	}
	keep := p.Deletes[:0:0]
	for _, d := range p.Deletes {
		home, ok := have.Ports[d.Name].home()
		if ok && slices.ContainsFunc(arriving, func(a vswitchd.Interface) bool { return sameTunnel(home, a) || sameOfport(home, a) }) {
			p.Clear = append(p.Clear, d)
			continue
		}
		keep = append(keep, d)
	}
	p.Deletes = keep
	slices.SortFunc(p.Clear, func(a, b portDelete) int { return cmp.Compare(a.Name, b.Name) })
}

// clearOps is the clearing transaction: the ports of p.Clear leave the bridge
// (OVSDB garbage-collects them) and next_cfg moves on.
func (c *Client) clearOps(p plan, root string) ([]ovsdb.Operation, error) {
	b := &opsBuilder{api: c.ovs}
	uuids := make([]string, len(p.Clear))
	for i, d := range p.Clear {
		uuids[i] = d.UUID
	}
	br := &vswitchd.Bridge{UUID: p.Bridge.UUID}
	b.add(c.ovs.Where(br).Mutate(br, model.Mutation{Field: &br.Ports, Mutator: ovsdb.MutateOperationDelete, Value: uuids}))
	r := &vswitchd.OpenvSwitch{UUID: root}
	b.add(c.ovs.Where(r).Mutate(r, model.Mutation{Field: &r.NextCfg, Mutator: ovsdb.MutateOperationAdd, Value: 1}))
	b.add(c.ovs.Where(r).Select(r, &r.NextCfg))
	return b.ops, b.err
}

// clear sends the clearing transaction of p, if any, and waits until
// ovs-vswitchd applied it.
func (c *Client) clear(ctx context.Context, p plan, root string) error {
	if len(p.Clear) == 0 {
		return nil
	}
	ops, err := c.clearOps(p, root)
	if err != nil {
		return fmt.Errorf("build the transaction that deletes %d clashing or refused ports first: %w", len(p.Clear), err)
	}
	cfg, err := c.transact(ctx, ops)
	if err != nil {
		return fmt.Errorf("delete %d clashing or refused ports first: %w", len(p.Clear), err)
	}
	if err := c.waitApplied(ctx, cfg); err != nil {
		return fmt.Errorf("delete %d clashing or refused ports first: %w", len(p.Clear), err)
	}
	return nil
}
