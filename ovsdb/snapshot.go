package ovsdb

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/ovn-kubernetes/libovsdb/cache"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
	"github.com/ovsmesh/ovsmesh/topology"
)

// tables is a plain copy of the four monitored tables, rows keyed by _uuid.
type tables struct {
	Root    vswitchd.OpenvSwitch // UUID "" when the database has no Open_vSwitch row
	Bridges map[string]vswitchd.Bridge
	Ports   map[string]vswitchd.Port
	Ifaces  map[string]vswitchd.Interface
}

// readTables copies the cache. libovsdb locks each table on its own, so an update
// can land between two reads; a copy with dangling references is read again.
func (c *Client) readTables(ctx context.Context) (tables, error) {
	var t tables
	for range 5 {
		var err error
		if t, err = c.readTablesOnce(ctx); err != nil {
			return tables{}, err
		}
		if t.consistent() {
			return t, nil
		}
	}
	return t, nil // still moving: diff works on what it has, the next pass corrects
}

func (c *Client) readTablesOnce(ctx context.Context) (tables, error) {
	t, err := c.readBridges(ctx)
	if err != nil {
		return tables{}, err
	}
	cache := c.ovs.Cache()
	t.Ports = shallowRows[vswitchd.Port](cache.Table(vswitchd.PortTable))
	t.Ifaces = shallowRows[vswitchd.Interface](cache.Table(vswitchd.InterfaceTable))
	return t, nil
}

// readBridges reads the Open_vSwitch row and the bridges from the cache, not
// the ports and interfaces (a thousand each at 1000 hosts).
func (c *Client) readBridges(ctx context.Context) (tables, error) {
	if !c.connected() {
		// The cache of a lost connection is stale (and cleared on reconnection).
		return tables{}, notConnected{c.endpoint}
	}
	if err := ctx.Err(); err != nil {
		return tables{}, err
	}
	cache := c.ovs.Cache()
	t := tables{Bridges: shallowRows[vswitchd.Bridge](cache.Table(vswitchd.BridgeTable))}
	for _, r := range shallowRows[vswitchd.OpenvSwitch](cache.Table(vswitchd.OpenvSwitchTable)) {
		t.Root = r
	}
	return t, nil
}

// shallowRows copies one table of the cache by _uuid without cloning the rows'
// maps and slices (libovsdb's List deep-copies every row through reflection: a
// third of a no-op apply's OVSDB time with 1000 tunnels). That is safe because
// libovsdb replaces a cached row by an updated clone instead of changing it in
// place, and nothing here writes to a row read from the cache: the maps and
// slices of the result are read-only.
func shallowRows[T any](rc *cache.RowCache) map[string]T {
	if rc == nil {
		return map[string]T{}
	}
	rows := rc.RowsShallow()
	out := make(map[string]T, len(rows))
	for uuid, m := range rows {
		if r, ok := m.(*T); ok {
			out[uuid] = *r
		}
	}
	return out
}

// consistent reports whether every reference between the copied rows resolves.
func (t tables) consistent() bool {
	for _, u := range t.Root.Bridges {
		if _, ok := t.Bridges[u]; !ok {
			return false
		}
	}
	for _, b := range t.Bridges {
		for _, u := range b.Ports {
			if _, ok := t.Ports[u]; !ok {
				return false
			}
		}
	}
	for _, p := range t.Ports {
		for _, u := range p.Interfaces {
			if _, ok := t.Ifaces[u]; !ok {
				return false
			}
		}
	}
	return true
}

// snapshot is what diff compares the desired state with: the bridge the topology
// names, its ports, and the port and interface names in use elsewhere.
type snapshot struct {
	Root   string           // _uuid of the Open_vSwitch row; "" when there is none
	Bridge *vswitchd.Bridge // nil when the bridge does not exist
	// Ports are the bridge's ports by name.
	Ports map[string]portRows
	// Taken maps each port or interface name used outside Ports (another bridge, or
	// an interface of a port with another name) to a description of the user.
	// OVSDB names are unique per table, so such a name cannot be created.
	Taken map[string]string
	// TakenOn maps each name of Taken that a port of another bridge uses to that
	// bridge's name: a bridge diff deletes frees its names in the same transaction.
	TakenOn map[string]string
	// Others are the bridges other than Bridge, by name.
	Others map[string]vswitchd.Bridge
	// Foreign are the interfaces of the ports that are not ovsmesh's on Bridge
	// and of every port elsewhere: what may clash with a tunnel (see repair.go).
	Foreign []foreignIface
	// Recreated are the tunnels the client recreated in its previous pass (see
	// repair.go). Apply sets it; it is not read from the database.
	Recreated map[string]bool
}

// foreignIface is an interface of a port that is not ovsmesh's on the bridge,
// or of a port elsewhere.
type foreignIface struct {
	Where  string // describes its port, e.g. `port "gre0" of bridge "brx"`
	Bridge string // the bridge of its port; "" for none
	Owned  bool   // its port has an owner mark (an ovsmesh bridge of another name)
	Iface  vswitchd.Interface
}

// portRows is a Port and its Interfaces, sorted by name.
type portRows struct {
	Port   vswitchd.Port
	Ifaces []vswitchd.Interface
}

// home returns the port's interface of the same name: the one ovsmesh manages.
func (p portRows) home() (vswitchd.Interface, bool) {
	for _, i := range p.Ifaces {
		if i.Name == p.Port.Name {
			return i, true
		}
	}
	return vswitchd.Interface{}, false
}

func (p portRows) owned() bool { return owned(p.Port.ExternalIDs) }

func owned(externalIDs map[string]string) bool {
	_, ok := externalIDs[topology.OwnerKey]
	return ok
}

// snapshotOf extracts the bridge named bridge from a copy of the tables.
func snapshotOf(t tables, bridge string) snapshot {
	s := snapshot{Root: t.Root.UUID, Ports: map[string]portRows{}, Taken: map[string]string{},
		TakenOn: map[string]string{}, Others: map[string]vswitchd.Bridge{}}
	bridgeOf := map[string]string{} // port uuid → bridge name
	for _, b := range t.Bridges {
		for _, u := range b.Ports {
			bridgeOf[u] = b.Name
		}
		if !slices.Contains(t.Root.Bridges, b.UUID) {
			continue
		}
		if b.Name == bridge {
			s.Bridge = &b
		} else {
			s.Others[b.Name] = b
		}
	}
	ifaceUsers := map[string]string{} // interfaces named unlike their port
	ifaceOn := map[string]string{}    // ... on a port of another bridge: that bridge
	for _, p := range t.Ports {
		mine := s.Bridge != nil && bridgeOf[p.UUID] == s.Bridge.Name
		if !mine {
			s.Taken[p.Name] = describePort(p.Name, bridgeOf[p.UUID])
			if on := bridgeOf[p.UUID]; on != "" {
				s.TakenOn[p.Name] = on
			}
		}
		rows := portRows{Port: p}
		for _, u := range p.Interfaces {
			i, ok := t.Ifaces[u]
			if !ok {
				continue
			}
			rows.Ifaces = append(rows.Ifaces, i)
			if !mine || !owned(p.ExternalIDs) {
				s.Foreign = append(s.Foreign, foreignIface{Where: describePort(p.Name, bridgeOf[p.UUID]),
					Bridge: bridgeOf[p.UUID], Owned: owned(p.ExternalIDs), Iface: i})
			}
			if i.Name != p.Name {
				ifaceUsers[i.Name] = fmt.Sprintf("interface %q of port %q", i.Name, p.Name)
				if on := bridgeOf[p.UUID]; on != "" && !mine {
					ifaceOn[i.Name] = on
				}
			}
		}
		slices.SortFunc(rows.Ifaces, func(a, b vswitchd.Interface) int { return cmp.Compare(a.Name, b.Name) })
		if mine {
			s.Ports[p.Name] = rows
		}
	}
	slices.SortFunc(s.Foreign, func(a, b foreignIface) int {
		return cmp.Or(cmp.Compare(a.Where, b.Where), cmp.Compare(a.Iface.Name, b.Iface.Name))
	})
	for name, user := range ifaceUsers {
		if _, ok := s.Taken[name]; !ok {
			s.Taken[name] = user // a port of that name describes it better
			if on, ok := ifaceOn[name]; ok {
				s.TakenOn[name] = on
			}
		}
	}
	return s
}

func describePort(name, bridge string) string {
	if bridge == "" {
		return fmt.Sprintf("port %q (on no bridge)", name)
	}
	return fmt.Sprintf("port %q of bridge %q", name, bridge)
}
