package ovsdb

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
	"github.com/ovsmesh/ovsmesh/topology"
)

// Inventory is every bridge of a database with the interfaces of its ports,
// ovsmesh's and others' (for `ovsmesh check`, which looks for clashes with
// what ovsmesh did not build).
type Inventory struct {
	OVSVersion    string // Open_vSwitch.ovs_version (the distribution's start script writes it; may be empty)
	SchemaVersion string // the version of the schema the server serves
	Bridges       []InventoryBridge
}

// InventoryBridge is one bridge and the interfaces of its ports, sorted by name.
type InventoryBridge struct {
	Name     string
	Datapath string // datapath_type: "" is system
	Ifaces   []InventoryIface
}

// InventoryIface is one interface of one port.
type InventoryIface struct {
	Port, Name, Type string
	Options          map[string]string
	Owned            bool // the port or the interface carries ovsmesh's owner mark
}

// ReadInventory reads the whole database at endpoint once (connect, one monitor
// reply, close), bounded by ctx, and writes nothing.
func ReadInventory(ctx context.Context, endpoint string) (Inventory, error) {
	dbModel, err := clientModel()
	if err != nil {
		return Inventory{}, err
	}
	lg := logr.Discard()
	ovs, err := client.NewOVSDBClient(dbModel, client.WithEndpoint(endpoint), client.WithLogger(&lg))
	if err != nil {
		return Inventory{}, fmt.Errorf("make an OVSDB client for %s: %w", endpoint, err)
	}
	if err := ovs.Connect(ctx); err != nil {
		return Inventory{}, fmt.Errorf("connect to %s: %w", endpoint, err)
	}
	defer ovs.Close()
	if _, err := ovs.MonitorAll(ctx); err != nil {
		return Inventory{}, fmt.Errorf("read the database at %s: %w", endpoint, err)
	}
	inv := Inventory{SchemaVersion: ovs.Schema().Version}
	if err := fillInventory(ctx, ovs, &inv); err != nil {
		return Inventory{}, fmt.Errorf("read the database at %s: %w", endpoint, err)
	}
	return inv, nil
}

// fillInventory copies the cache into inv: bridges sorted by name, each with its
// interfaces.
func fillInventory(ctx context.Context, ovs client.Client, inv *Inventory) error {
	var (
		roots   []vswitchd.OpenvSwitch
		bridges []vswitchd.Bridge
		ports   []vswitchd.Port
		ifaces  []vswitchd.Interface
	)
	for _, list := range []any{&roots, &bridges, &ports, &ifaces} {
		if err := ovs.List(ctx, list); err != nil {
			return err
		}
	}
	for _, r := range roots {
		if r.OVSVersion != nil {
			inv.OVSVersion = *r.OVSVersion
		}
	}
	portByUUID := make(map[string]vswitchd.Port, len(ports))
	for _, p := range ports {
		portByUUID[p.UUID] = p
	}
	ifaceByUUID := make(map[string]vswitchd.Interface, len(ifaces))
	for _, i := range ifaces {
		ifaceByUUID[i.UUID] = i
	}
	for _, b := range bridges {
		ib := InventoryBridge{Name: b.Name, Datapath: b.DatapathType}
		for _, pu := range b.Ports {
			p := portByUUID[pu]
			_, portOwned := p.ExternalIDs[topology.OwnerKey]
			for _, iu := range p.Interfaces {
				i := ifaceByUUID[iu]
				_, owned := i.ExternalIDs[topology.OwnerKey]
				ib.Ifaces = append(ib.Ifaces, InventoryIface{Port: p.Name, Name: i.Name, Type: i.Type, Options: i.Options, Owned: owned || portOwned})
			}
		}
		slices.SortFunc(ib.Ifaces, func(a, b InventoryIface) int { return strings.Compare(a.Name, b.Name) })
		inv.Bridges = append(inv.Bridges, ib)
	}
	slices.SortFunc(inv.Bridges, func(a, b InventoryBridge) int { return strings.Compare(a.Name, b.Name) })
	return nil
}
