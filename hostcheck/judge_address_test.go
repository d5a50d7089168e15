package hostcheck

import (
	"net/netip"
	"strings"
	"testing"
)

var addrPlan = AddressPlan{
	Subnet:       netip.MustParsePrefix("172.17.0.0/16"),
	Slice:        netip.MustParsePrefix("172.17.16.0/20"),
	DockerBridge: "docker0",
	DockerAddr:   netip.MustParsePrefix("172.17.0.1/16"),
}

// itemsText renders items one per line as the text report does.
func itemsText(items []Item) string {
	var b strings.Builder
	_ = Report{Items: items}.WriteText(&b)
	return b.String()
}

func TestJudgeAddressesClean(t *testing.T) {
	f := AddressFacts{
		Routes: []Route{
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "eth0", Via: netip.MustParseAddr("10.0.0.1")},
			{Dst: netip.MustParsePrefix("10.0.0.0/24"), Dev: "eth0"},
			{Dst: netip.MustParsePrefix("172.17.0.0/16"), Dev: "docker0"},
		},
		Addrs:  []IfAddr{{Dev: "eth0", Addr: netip.MustParsePrefix("10.0.0.5/24")}, {Dev: "docker0", Addr: netip.MustParsePrefix("172.17.0.1/16")}},
		Daemon: DaemonJSON{Path: "/etc/docker/daemon.json", Bip: "172.17.0.1/16", FixedCIDR: "172.17.16.0/20", Pools: []string{"10.200.0.0/16"}},
	}
	items := JudgeAddresses(addrPlan, f)
	for _, it := range items {
		if it.Status != OK {
			t.Errorf("want ok: %+v", it)
		}
	}
	if len(items) != 3 {
		t.Errorf("want 3 items (routes, interfaces, daemon.json), got\n%s", itemsText(items))
	}
	missing := JudgeAddresses(addrPlan, AddressFacts{Daemon: DaemonJSON{Path: "/x", Missing: true}})
	if got := itemsText(missing); strings.Contains(got, "problem  ") || !strings.Contains(got, "no such file") {
		t.Errorf("missing daemon.json:\n%s", got)
	}
}

func TestJudgeAddressesClashes(t *testing.T) {
	f := AddressFacts{
		Routes: []Route{
			{Dst: netip.MustParsePrefix("172.17.5.0/24"), Dev: "lo"},
			{Dst: netip.MustParsePrefix("172.16.0.0/12"), Via: netip.MustParseAddr("10.0.0.1"), Dev: "eth0"},
		},
		Addrs: []IfAddr{{Dev: "eth1", Addr: netip.MustParsePrefix("172.17.40.2/24")}},
		Daemon: DaemonJSON{Path: "/d.json", Bip: "172.18.0.1/16", FixedCIDR: "172.17.32.0/20",
			Pools: []string{"10.200.0.0/16", "172.17.0.0/12"}},
	}
	got := itemsText(JudgeAddresses(addrPlan, f))
	for _, want := range []string{
		"problem  address route 172.17.5.0/24 dev lo: lies inside the container subnet 172.17.0.0/16",
		"fix: delete the route (ip route del 172.17.5.0/24 dev lo)",
		"warning  address route 172.16.0.0/12 via 10.0.0.1 dev eth0: contains the container subnet",
		"problem  address interface eth1 (172.17.40.2/24): its address overlaps",
		"ip addr del 172.17.40.2/24 dev eth1",
		`problem  address daemon.json /d.json: bip: bip "172.18.0.1/16" is not the planned docker0 address 172.17.0.1/16`,
		`fix: set "bip": "172.17.0.1/16"`,
		"problem  address daemon.json /d.json: default-address-pools[1]: base 172.17.0.0/12 overlaps",
		`problem  address daemon.json /d.json: fixed-cidr: fixed-cidr "172.17.32.0/20" is not inside this host's slice 172.17.16.0/20`,
		`fix: set "fixed-cidr": "172.17.16.0/20"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "pools[0]") || strings.Contains(got, "ok ") {
		t.Errorf("reports what does not clash:\n%s", got)
	}
}

func TestJudgeDaemonJSONBroken(t *testing.T) {
	items := JudgeAddresses(addrPlan, AddressFacts{Daemon: DaemonJSON{Path: "/d.json", Err: "not valid JSON: x"}})
	if got := itemsText(items); !strings.Contains(got, "problem  address daemon.json /d.json: not valid JSON") {
		t.Errorf("got\n%s", got)
	}
}
