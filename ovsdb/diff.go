package ovsdb

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
	"github.com/ovsmesh/ovsmesh/topology"
)

// ErrNotOwned is wrapped by the errors about wanted tunnels whose name is taken by
// a port that is not ovsmesh's: such a port is reported, never taken over.
var ErrNotOwned = errors.New("is not ovsmesh's (no external_ids:" + topology.OwnerKey + "), not taking it over")

// ErrNameTaken is wrapped by the errors about wanted ports whose name is already
// used by a port or interface elsewhere (names are unique in OVSDB).
var ErrNameTaken = errors.New("name already in use")

// costKeys are the Port other_config keys of the path cost that ovsmesh manages
// on its tunnel ports: the one the bridge's protocol reads holds the cost, the
// other is removed (it would be left over by a switch between STP and RSTP).
var costKeys = []string{topology.RSTPCostKey, topology.STPCostKey}

// plan is what Apply must change, computed by diff; ops.go turns it into
// operations. Every change carries at least one line, so a plan without lines
// changes nothing.
type plan struct {
	Bridge  bridgePlan
	Ports   []portPlan   // ports to create or update, sorted by name
	Deletes []portDelete // owned ports to remove from the bridge, sorted by name
	// Clear are owned ports to remove in a transaction of their own, applied by
	// ovs-vswitchd before the main one (see repair.go), sorted by name.
	Clear []portDelete
	// Recreated are the refused tunnels deleted by Clear and created again.
	Recreated []string
	// DropBridges are this host's bridges the topology no longer names, sorted.
	DropBridges []portDelete
	Lines       []string // one human-readable line per change, sorted
	Errs        []error  // wanted objects that cannot be applied (name conflicts)
	// Nudge makes RSTP reselect port roles after the transaction (see rstp.go);
	// nil when the pass deletes no port of an RSTP bridge.
	Nudge *nudgePlan
}

func (p plan) empty() bool { return len(p.Lines) == 0 }

// bridgePlan creates the bridge or updates the columns ovsmesh manages.
type bridgePlan struct {
	Create bool
	UUID   string          // the existing row
	Want   vswitchd.Bridge // the managed columns as they must be, external_ids included
	Update []string        // managed columns that differ (column names)
	Keys   []keyChange     // external_ids:ovsmesh-owner
}

// portPlan creates a port (with its interface) or updates one ovsmesh owns.
type portPlan struct {
	Create    bool
	PortUUID  string             // the existing port
	IfaceUUID string             // the existing interface of the port's name; "" creates it
	Port      vswitchd.Port      // desired name, external_ids and other_config
	Iface     vswitchd.Interface // desired managed columns
	// IfaceUpdate lists the managed interface columns that differ.
	IfaceUpdate []string
	// SetInterfaces replaces the port's interfaces by just the one of its name.
	SetInterfaces       bool
	PortKeys, IfaceKeys []keyChange
}

// portDelete removes an owned port from the bridge; OVSDB then garbage-collects the
// Port and its Interface rows, which nothing references any more.
type portDelete struct {
	UUID, Name string
}

// keyChange changes one key of a map column by mutation, so that the other keys
// (the operator's) stay as they are.
type keyChange struct {
	Column, Key string
	Old, New    *string // nil: the key is absent
}

// portWant is a port ovsmesh wants on the bridge.
type portWant struct {
	Port     vswitchd.Port
	Iface    vswitchd.Interface
	Cols     []string // the interface columns ovsmesh manages on this port
	What     string   // names the port in errors
	Internal bool     // the bridge's own port, adopted with the bridge
}

// diff compares the desired OVS state with a snapshot of the database. It is pure.
func diff(want topology.OVSState, have snapshot) plan {
	var p plan
	for _, b := range staleBridges(want, have) {
		p.DropBridges = append(p.DropBridges, portDelete{UUID: b.UUID, Name: b.Name})
		p.Lines = append(p.Lines, fmt.Sprintf("delete bridge %s and its %d ports (this host's, no longer in the topology)", b.Name, len(b.Ports)))
		// Its names are free again once the transaction deletes it.
		have.Taken = maps.Clone(have.Taken)
		for name, on := range have.TakenOn {
			if on == b.Name {
				delete(have.Taken, name)
			}
		}
	}
	var lines []string
	p.Bridge, lines = diffBridge(want, have.Bridge)
	p.Lines = append(p.Lines, lines...)
	wanted := map[string]bool{}
	for _, w := range wantedPorts(want) {
		wanted[w.Port.Name] = true
		if d, pp, line, ok := diffRecreate(w, have); ok {
			p.Clear, p.Ports = append(p.Clear, d), append(p.Ports, pp)
			p.Recreated, p.Lines = append(p.Recreated, d.Name), append(p.Lines, line)
			continue
		}
		pp, lines, err := diffPort(w, have, want.Owner)
		if err != nil {
			p.Errs = append(p.Errs, err)
			continue
		}
		if len(lines) > 0 {
			p.Ports = append(p.Ports, pp)
			p.Lines = append(p.Lines, lines...)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(have.Ports)) {
		rows := have.Ports[name]
		if wanted[name] || !rows.owned() {
			continue // still wanted, or not ours: never touched
		}
		p.Deletes = append(p.Deletes, portDelete{UUID: rows.Port.UUID, Name: name})
		p.Lines = append(p.Lines, deleteLine(rows))
	}
	if n, line := diffNudge(want, have, p.Deletes); n != nil {
		p.Nudge = n
		p.Lines = append(p.Lines, line)
	}
	splitClashes(&p, have)
	slices.Sort(p.Lines)
	return p
}

// wantBridge returns the bridge columns ovsmesh manages, as they must be.
func wantBridge(w topology.OVSState) vswitchd.Bridge {
	b := vswitchd.Bridge{
		Name: w.Bridge, DatapathType: w.Datapath, STPEnable: w.STP, RSTPEnable: w.RSTP,
		Protocols:   slices.Clone(w.Protocols),
		ExternalIDs: map[string]string{topology.OwnerKey: w.Owner},
	}
	if w.FailMode != "" {
		b.FailMode = &w.FailMode
	}
	return b
}

// bridgeColumns renders each managed bridge column as comparable text.
var bridgeColumns = []struct {
	name string
	text func(vswitchd.Bridge) string
}{
	{"datapath_type", func(b vswitchd.Bridge) string {
		if b.DatapathType == "" {
			return topology.DatapathSystem // what ovs-vswitchd uses for ""
		}
		return b.DatapathType
	}},
	{"fail_mode", func(b vswitchd.Bridge) string { return deref(b.FailMode) }},
	{"protocols", func(b vswitchd.Bridge) string { return strings.Join(slices.Sorted(slices.Values(b.Protocols)), ",") }},
	{"rstp_enable", func(b vswitchd.Bridge) string { return strconv.FormatBool(b.RSTPEnable) }},
	{"stp_enable", func(b vswitchd.Bridge) string { return strconv.FormatBool(b.STPEnable) }},
}

func diffBridge(w topology.OVSState, have *vswitchd.Bridge) (bridgePlan, []string) {
	bp := bridgePlan{Want: wantBridge(w)}
	if have == nil {
		bp.Create = true
		fields := []string{"create bridge " + w.Bridge}
		for _, c := range bridgeColumns {
			if v := c.text(bp.Want); v != "" {
				fields = append(fields, c.name+"="+v)
			}
		}
		return bp, []string{strings.Join(fields, " ")}
	}
	bp.UUID = have.UUID
	var lines []string
	for _, c := range bridgeColumns {
		if old, new := c.text(*have), c.text(bp.Want); old != new {
			bp.Update = append(bp.Update, c.name)
			lines = append(lines, updateLine("bridge", w.Bridge, c.name, old, new))
		}
	}
	if k, ok := keyDelta("external_ids", topology.OwnerKey, have.ExternalIDs, &w.Owner); ok {
		bp.Keys = append(bp.Keys, k)
		lines = append(lines, k.line("bridge", w.Bridge))
	}
	return bp, lines
}

// wantedPorts returns the bridge's internal port and the tunnel ports.
func wantedPorts(w topology.OVSState) []portWant {
	owner := map[string]string{topology.OwnerKey: w.Owner}
	internal := portWant{
		Port:  vswitchd.Port{Name: w.Bridge, ExternalIDs: owner},
		Iface: vswitchd.Interface{Name: w.Bridge, Type: "internal", ExternalIDs: owner},
		Cols:  []string{"type", "mtu_request"},
		What:  fmt.Sprintf("internal port %q of bridge %q", w.Bridge, w.Bridge), Internal: true,
	}
	if w.MTU > 0 {
		internal.Iface.MTURequest = &w.MTU
	}
	ports := []portWant{internal}
	for _, t := range w.Tunnels {
		pw := portWant{
			Port: vswitchd.Port{Name: t.Name, ExternalIDs: owner},
			Iface: vswitchd.Interface{Name: t.Name, Type: t.Type, Options: t.Options(),
				BFD: t.BFDConfig(), ExternalIDs: owner},
			Cols: []string{"type", "options", "bfd", "ofport_request"},
			What: fmt.Sprintf("tunnel port %q to %s", t.Name, t.RemoteIP),
		}
		if t.OFPort > 0 {
			pw.Iface.OfportRequest = &t.OFPort
		}
		if t.STPCost > 0 {
			pw.Port.OtherConfig = map[string]string{w.PathCostKey(): strconv.Itoa(t.STPCost)}
		}
		ports = append(ports, pw)
	}
	return append(ports, networkPorts(w, owner)...)
}

// diffPort plans one wanted port. It returns no lines when the port matches.
func diffPort(w portWant, have snapshot, owner string) (portPlan, []string, error) {
	name := w.Port.Name
	pp := portPlan{Port: w.Port, Iface: w.Iface}
	rows, exists := have.Ports[name]
	if !exists {
		if where, taken := have.Taken[name]; taken {
			return pp, nil, fmt.Errorf("create %s: %s: %w", w.What, where, ErrNameTaken)
		}
		pp.Create = true
		return pp, []string{createLine(w)}, nil
	}
	if !rows.owned() && !w.Internal {
		return pp, nil, fmt.Errorf("create %s: port %q on bridge %q %w", w.What, name, have.Bridge.Name, ErrNotOwned)
	}
	pp.PortUUID = rows.Port.UUID
	var lines []string
	if k, ok := keyDelta("external_ids", topology.OwnerKey, rows.Port.ExternalIDs, &owner); ok {
		pp.PortKeys = append(pp.PortKeys, k)
		lines = append(lines, k.line("port", name))
	}
	if !w.Internal {
		for _, key := range costKeys {
			var cost *string
			if v, ok := w.Port.OtherConfig[key]; ok {
				cost = &v
			}
			if k, ok := keyDelta("other_config", key, rows.Port.OtherConfig, cost); ok {
				pp.PortKeys = append(pp.PortKeys, k)
				lines = append(lines, k.line("port", name))
			}
		}
	}
	home, ok := rows.home()
	if len(rows.Ifaces) != 1 || !ok {
		pp.SetInterfaces = true
		lines = append(lines, updateLine("port", name, "interfaces", ifaceNames(rows.Ifaces), name))
	}
	if !ok {
		if where, taken := have.Taken[name]; taken {
			return pp, nil, fmt.Errorf("create interface of %s: %s: %w", w.What, where, ErrNameTaken)
		}
		return pp, append(lines, "create interface "+name+createFields(w)), nil
	}
	pp.IfaceUUID = home.UUID
	pp.IfaceUpdate, lines = diffIface(home, w, lines)
	if k, ok := keyDelta("external_ids", topology.OwnerKey, home.ExternalIDs, &owner); ok {
		pp.IfaceKeys = append(pp.IfaceKeys, k)
		lines = append(lines, k.line("interface", name))
	}
	return pp, lines, nil
}

// diffIface compares the managed columns of an existing interface and appends a
// line per difference (one per map key for map columns).
func diffIface(have vswitchd.Interface, w portWant, lines []string) ([]string, []string) {
	var update []string
	for _, col := range w.Cols {
		var d []string
		switch col {
		case "type":
			d = scalarDiff("interface", have.Name, col, have.Type, w.Iface.Type)
		case "options":
			d = mapDiff("interface", have.Name, col, have.Options, w.Iface.Options)
		case "bfd":
			d = mapDiff("interface", have.Name, col, have.BFD, w.Iface.BFD)
		case "ofport_request":
			d = scalarDiff("interface", have.Name, col, intText(have.OfportRequest), intText(w.Iface.OfportRequest))
		case "mtu_request":
			d = scalarDiff("interface", have.Name, col, intText(have.MTURequest), intText(w.Iface.MTURequest))
		}
		if len(d) > 0 {
			update = append(update, col)
			lines = append(lines, d...)
		}
	}
	return update, lines
}

// keyDelta returns the change that makes m[key] equal want (nil: absent).
func keyDelta(column, key string, m map[string]string, want *string) (keyChange, bool) {
	var old *string
	if v, ok := m[key]; ok {
		old = &v
	}
	if (old == nil && want == nil) || (old != nil && want != nil && *old == *want) {
		return keyChange{}, false
	}
	return keyChange{Column: column, Key: key, Old: old, New: want}, true
}

func (k keyChange) line(table, name string) string {
	return updateLine(table, name, k.Column+":"+k.Key, deref(k.Old), deref(k.New))
}
