package hostcheck

import (
	"net/netip"
	"strings"
	"testing"
)

// labOVS is the lab's OVS: the underlay address on br-phy, an internal port of
// netdev bridge br-phy, which also holds the NIC eth0.
func labOVS() OVSFacts {
	return OVSFacts{UnderlayDev: "br-phy", DB: OVSDBFacts{Bridges: []OVSBridge{
		{Name: "br-phy", Datapath: "netdev", Ifaces: []OVSIface{{Port: "br-phy", Name: "br-phy", Type: "internal"}, {Port: "eth0", Name: "eth0"}}},
		{Name: "br0", Datapath: "netdev", Ifaces: []OVSIface{{Port: "br0", Name: "br0", Type: "internal"}, {Port: "gre-d2", Name: "gre-d2", Type: "gre"}}},
	}}}
}

func TestJudgeARP(t *testing.T) {
	p := OVSPlan{Datapath: "netdev", Address: netip.MustParseAddr("198.18.0.1")}
	fix := `put the line "net.ipv4.conf.all.arp_ignore = 1" in /etc/sysctl.d/90-ovsmesh.conf and run sysctl --system (or "net.ipv4.conf.eth0.arp_ignore = 1" for this NIC only)`
	for _, tc := range []struct {
		name      string
		all, eth0 int
		want      Status
		detail    string
	}{
		{"defaults", 0, 0, Problem, "arp_ignore is 0 (all 0, eth0 0): the kernel also answers ARP for the underlay address 198.18.0.1 (on br-phy) from eth0's MAC"},
		{"all", 1, 0, OK, "arp_ignore is 1 (all 1, eth0 0)"},
		{"the NIC's own", 0, 1, OK, "arp_ignore is 1 (all 0, eth0 1)"}, // the kernel takes the larger
		{"2", 2, 0, OK, "arp_ignore is 2 (all 2, eth0 0)"},
	} {
		items := JudgeARP(p, labOVS(), ARPFacts{ArpIgnore: map[string]int{"all": tc.all, "eth0": tc.eth0}})
		if len(items) != 1 {
			t.Fatalf("%s: %+v", tc.name, items)
		}
		it := items[0]
		if it.Status != tc.want || it.Subject != "eth0 (a port of br-phy)" || !strings.HasPrefix(it.Detail, tc.detail) ||
			(tc.want == Problem) != strings.HasSuffix(it.Fix, fix) {
			t.Errorf("%s: %+v", tc.name, it)
		}
	}
	// Not applicable: the system datapath, the underlay address on no OVS
	// internal port (JudgeOVS says so), a database that did not answer.
	facts := ARPFacts{ArpIgnore: map[string]int{"all": 0, "eth0": 0}}
	moved := labOVS()
	moved.UnderlayDev = "eth0"
	down := labOVS()
	down.DB.Err = "does not answer"
	for name, c := range map[string]struct {
		p OVSPlan
		f OVSFacts
	}{"system": {OVSPlan{Datapath: "system"}, labOVS()}, "on eth0": {p, moved}, "db down": {p, down}} {
		if items := JudgeARP(c.p, c.f, facts); len(items) != 0 {
			t.Errorf("%s: %+v", name, items)
		}
	}
	if _, nics, ok := UnderlayNICs(p, labOVS()); !ok || strings.Join(nics, ",") != "eth0" {
		t.Errorf("UnderlayNICs: %v %v", nics, ok)
	}
	items := JudgeARP(p, labOVS(), ARPFacts{ArpIgnore: map[string]int{"all": 0}, Errs: []string{"cannot read /proc/sys/net/ipv4/conf/eth0/arp_ignore: no such file"}})
	if len(items) != 1 || items[0].Status != Warning {
		t.Errorf("unreadable: %+v", items)
	}
}
