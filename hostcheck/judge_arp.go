package hostcheck

import (
	"fmt"
	"slices"
)

// ARPFacts are the arp_ignore sysctls of this host's network namespace, by
// interface name ("all" included); an interface whose value could not be read
// is missing, with the reason in Errs.
type ARPFacts struct {
	ArpIgnore map[string]int
	Errs      []string
}

// UnderlayNICs finds, with datapath netdev, the netdev bridge whose internal
// port holds the underlay address (the lab's br-phy) and the ports of that
// bridge that the kernel also sees as its own interfaces (type "" or "system":
// the physical NIC). ok is false when the plan does not use the netdev datapath
// or the underlay address is not on such a port (JudgeOVS reports that).
func UnderlayNICs(p OVSPlan, f OVSFacts) (bridge string, nics []string, ok bool) {
	if p.Datapath != "netdev" || f.UnderlayDev == "" || f.DB.Err != "" {
		return "", nil, false
	}
	for _, b := range f.DB.Bridges {
		if b.Datapath != "netdev" || !slices.ContainsFunc(b.Ifaces, func(i OVSIface) bool { return i.Name == f.UnderlayDev && i.Type == "internal" }) {
			continue
		}
		for _, i := range b.Ifaces {
			if i.Type == "" || i.Type == "system" {
				nics = append(nics, i.Name)
			}
		}
		return b.Name, nics, true
	}
	return "", nil, false
}

// JudgeARP reports, for the netdev datapath, whether the kernel would answer
// ARP for the underlay address from a NIC of the underlay's bridge: the
// kernel also receives the ARP requests that reach the NIC, and with
// arp_ignore 0 (the default) it answers for any of its addresses from the NIC's
// own MAC. Peers' ovs-vswitchd then may keep that MAC in their tunnel neighbour
// cache, and their tunnel packets to this host go to the NIC's MAC instead of
// the bridge's, which the userspace datapath does not terminate. The kernel
// uses the larger of net.ipv4.conf.all.arp_ignore and the interface's own.
func JudgeARP(p OVSPlan, f OVSFacts, a ARPFacts) []Item {
	bridge, nics, ok := UnderlayNICs(p, f)
	if !ok {
		return nil
	}
	var items []Item
	for _, e := range a.Errs {
		items = append(items, Item{Check: "arp", Subject: bridge, Status: Warning, Detail: e,
			Fix: "read the value with sysctl net.ipv4.conf.all.arp_ignore and check again"})
	}
	all, haveAll := a.ArpIgnore["all"]
	for _, nic := range nics {
		v, have := a.ArpIgnore[nic]
		if !have || !haveAll {
			continue // reported in Errs
		}
		it := Item{Check: "arp", Subject: fmt.Sprintf("%s (a port of %s)", nic, bridge)}
		eff := max(all, v)
		if eff >= 1 {
			it.Status = OK
			it.Detail = fmt.Sprintf("arp_ignore is %d (all %d, %s %d): the kernel does not answer ARP for the underlay address %s (on %s) from %s's MAC",
				eff, all, nic, v, p.Address, f.UnderlayDev, nic)
		} else {
			it.Status = Problem
			it.Detail = fmt.Sprintf("arp_ignore is 0 (all %d, %s %d): the kernel also answers ARP for the underlay address %s (on %s) from %s's MAC; "+
				"a peer's ovs-vswitchd can keep that MAC in its tunnel neighbour cache, and its tunnel packets to this host then miss %s",
				all, nic, v, p.Address, f.UnderlayDev, nic, bridge)
			it.Fix = "set net.ipv4.conf.all.arp_ignore to 1: put the line \"net.ipv4.conf.all.arp_ignore = 1\" in /etc/sysctl.d/90-ovsmesh.conf " +
				fmt.Sprintf("and run sysctl --system (or \"net.ipv4.conf.%s.arp_ignore = 1\" for this NIC only)", nic)
		}
		items = append(items, it)
	}
	return items
}
