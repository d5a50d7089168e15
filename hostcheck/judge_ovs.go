package hostcheck

import (
	"fmt"
	"net/netip"

	"github.com/ovsmesh/ovsmesh/ovsdb"
)

// OVSDBFacts is what one read of the Open vSwitch database found.
type OVSDBFacts struct {
	Endpoint   string
	Err        string // the server did not answer, or the read failed
	OVSVersion string // Open_vSwitch.ovs_version (written by the distribution's start script; may be empty)
	DBVersion  string // the version of the schema the server serves
	Bridges    []OVSBridge
}

// OVSBridge is one bridge and the interfaces of its ports, OVSIface one
// interface of one port (ovsmesh's or not), as ovsdb.ReadInventory reads them.
type (
	OVSBridge = ovsdb.InventoryBridge
	OVSIface  = ovsdb.InventoryIface
)

// ModuleState is what the host has of the openvswitch kernel module.
type ModuleState string

// The module states.
const (
	ModuleLoaded   ModuleState = "loaded"
	ModuleLoadable ModuleState = "loadable"
	ModuleAbsent   ModuleState = "absent"
)

// OVSPlan is what the topology asks of Open vSwitch on this host.
type OVSPlan struct {
	Datapath string     // "system" or "netdev"
	Address  netip.Addr // this host's underlay address
}

// OVSFacts is what probing Open vSwitch found.
type OVSFacts struct {
	DB            OVSDBFacts
	ServerVersion string // `ovs-appctl -t ovsdb-server version`, "" if unknown
	VSwitchd      string // `ovs-appctl -t ovs-vswitchd version`
	VSwitchdErr   string // ovs-vswitchd did not answer
	Module        ModuleState
	UnderlayDev   string // the interface that holds the underlay address, "" if none
}

// JudgeOVS reports both daemons and the datapath the topology asks for.
func JudgeOVS(p OVSPlan, f OVSFacts) []Item {
	items := []Item{judgeServer(f), judgeVSwitchd(f)}
	if p.Datapath == "netdev" {
		return append(items, judgeNetdev(p, f))
	}
	return append(items, judgeModule(f.Module))
}

func judgeServer(f OVSFacts) Item {
	it := Item{Check: "ovs", Subject: "ovsdb-server"}
	if f.DB.Err != "" {
		it.Status, it.Detail = Problem, fmt.Sprintf("%s: %s", f.DB.Endpoint, f.DB.Err)
		it.Fix = "start Open vSwitch (systemctl start openvswitch-switch), or point --db at its database socket"
		return it
	}
	it.Status = OK
	it.Detail = fmt.Sprintf("answers at %s (database schema %s)", f.DB.Endpoint, orUnknown(f.DB.DBVersion))
	if f.ServerVersion != "" {
		it.Detail += ": " + f.ServerVersion
	}
	return it
}

func judgeVSwitchd(f OVSFacts) Item {
	it := Item{Check: "ovs", Subject: "ovs-vswitchd"}
	if f.VSwitchdErr != "" {
		it.Status, it.Detail = Problem, "does not answer: "+f.VSwitchdErr
		it.Fix = "start it (systemctl start openvswitch-switch) and read its log (/var/log/openvswitch/ovs-vswitchd.log)"
		return it
	}
	it.Status, it.Detail = OK, "answers: "+f.VSwitchd
	return it
}

func judgeModule(m ModuleState) Item {
	it := Item{Check: "ovs", Subject: "datapath system"}
	switch m {
	case ModuleLoaded:
		it.Status, it.Detail = OK, "the openvswitch kernel module is loaded"
	case ModuleLoadable:
		it.Status, it.Detail = Warning, "the openvswitch kernel module is not loaded, but loadable (modinfo finds it)"
		it.Fix = "nothing to do if ovs-vswitchd loads it at start; else modprobe openvswitch"
	default:
		it.Status, it.Detail = Problem, "no openvswitch kernel module: not loaded, and modinfo does not find it"
		it.Fix = "install the kernel's modules package that has openvswitch.ko, or set network.datapath: netdev (userspace)"
	}
	return it
}

func judgeNetdev(p OVSPlan, f OVSFacts) Item {
	it := Item{Check: "ovs", Subject: "datapath netdev"}
	fix := fmt.Sprintf("put %s on the internal port of a netdev bridge that holds the physical interface "+
		"(ovs-vsctl add-br br-phy -- set bridge br-phy datapath_type=netdev -- add-port br-phy eth0; move the address to br-phy), "+
		"or set network.datapath: system", p.Address)
	if f.UnderlayDev == "" {
		it.Status, it.Detail = Problem, fmt.Sprintf("no interface of this host holds the underlay address %s", p.Address)
		it.Fix = "fix hosts[].address in the topology, or --host"
		return it
	}
	if f.DB.Err != "" {
		it.Status, it.Detail = Problem, fmt.Sprintf("cannot tell whether %s (on %s) is on an OVS bridge: the database did not answer", p.Address, f.UnderlayDev)
		it.Fix = "start Open vSwitch, then check again"
		return it
	}
	for _, b := range f.DB.Bridges {
		for _, i := range b.Ifaces {
			if i.Name != f.UnderlayDev {
				continue
			}
			if i.Type == "internal" && b.Datapath == "netdev" {
				it.Status = OK
				it.Detail = fmt.Sprintf("the underlay address %s is on %s, an internal port of netdev bridge %s: userspace tunnelling can send through it", p.Address, i.Name, b.Name)
				return it
			}
			it.Status = Problem
			it.Detail = fmt.Sprintf("the underlay address %s is on %s, a port of type %q on bridge %s (datapath %q): userspace tunnelling needs it on a netdev bridge's internal port",
				p.Address, i.Name, orUnknown(i.Type), b.Name, orUnknown(b.Datapath))
			it.Fix = fix
			return it
		}
	}
	it.Status = Problem
	it.Detail = fmt.Sprintf("the underlay address %s is on %s, which is not an OVS port: the userspace datapath sends tunnel packets only through an internal port of a netdev bridge",
		p.Address, f.UnderlayDev)
	it.Fix = fix
	return it
}

func orUnknown(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
