package topology

import (
	"net/netip"
	"strings"
	"testing"
)

// TestIdentityRules: the checks of a container with Docker's default
// endpoint (IPv4 only, so no IPv6 at all), as nft lists them.
func TestIdentityRules(t *testing.T) {
	c := Container{Name: "c1", MAC: "02:42:ac:11:20:02", IPv4: netip.MustParseAddr("172.17.32.2"), Veth: "veth1a2b3c4"}
	id, err := PlanIdentity([]Container{c})
	if err != nil {
		t.Fatal(err)
	}
	want := `chain from-veth1a2b3c4 (container c1)
  ether saddr != 02:42:ac:11:20:02 counter drop
  arp saddr ether != 02:42:ac:11:20:02 counter drop
  arp saddr ip != 172.17.32.2 counter drop
  ip saddr != 172.17.32.2 counter drop
  ether type ip6 counter drop
  ether type 8021q counter drop
  ether type 8021ad counter drop`
	if got := strings.Join(id.Lines(), "\n"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if id.Table != "ovsmesh" || !id.Equal(id) {
		t.Errorf("table %q", id.Table)
	}
}

// TestIdentityRulesIPv6: an IPv6 address is let through besides the
// link-local one; without IPv4, ARP and IPv4 are dropped whole.
func TestIdentityRulesIPv6(t *testing.T) {
	v6 := Container{Name: "c6", MAC: "6a:1f:3c:9d:52:e7", IPv4: netip.MustParseAddr("172.18.0.2"),
		IPv6: netip.MustParseAddr("fd00::2"), Veth: "veth6"}
	only6 := v6
	only6.IPv4, only6.Veth = netip.Addr{}, "veth7"
	id, err := PlanIdentity([]Container{only6, v6})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(id.Lines(), "\n")
	for _, want := range []string{
		"chain from-veth6 (container c6)\n  ether saddr != 6a:1f:3c:9d:52:e7 counter drop\n  arp saddr ether != 6a:1f:3c:9d:52:e7 counter drop\n" +
			"  arp saddr ip != 172.18.0.2 counter drop\n  ip saddr != 172.18.0.2 counter drop\n" +
			"  ip6 saddr fd00::2 return\n  ip6 saddr fe80::681f:3cff:fe9d:52e7 return\n  ip6 saddr :: return\n  ether type ip6 counter drop\n",
		"chain from-veth7 (container c6)\n  ether saddr != 6a:1f:3c:9d:52:e7 counter drop\n  ether type arp counter drop\n  ether type ip counter drop\n" +
			"  ip6 saddr fd00::2 return\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks\n%s\ngot\n%s", want, got)
		}
	}
}

// TestPlanIdentity: containers without a veth are left out, the chains are
// sorted by veth, and what is not a MAC, an address or an interface name is
// refused naming the container (the others are still planned).
func TestPlanIdentity(t *testing.T) {
	a := netip.MustParseAddr("172.17.0.2")
	id, err := PlanIdentity([]Container{
		{Name: "b", MAC: "02:42:ac:11:00:03", IPv4: a.Next(), Veth: "vethb"},
		{Name: "starting", MAC: "02:42:ac:11:00:04", IPv4: a.Next().Next()},
		{Name: "a", MAC: "02:42:ac:11:00:02", IPv4: a, Veth: "vetha"},
	})
	if err != nil || len(id.Chains) != 2 || id.Chains[0].Name() != "from-vetha" || id.Chains[1].Container != "b" {
		t.Errorf("%v %+v", err, id.Chains)
	}
	for _, tc := range []struct {
		c    Container
		want string
	}{
		{Container{Name: "x", MAC: "nope", Veth: "v"}, `container x: MAC "nope" is not an Ethernet address`},
		{Container{Name: "x", MAC: "02:42:AC:11:00:02", Veth: "v"}, `container x: MAC "02:42:AC:11:00:02" is not in the form 02:42:ac:11:00:02`},
		{Container{Name: "x", MAC: "02:42:ac:11:00:02", IPv4: netip.MustParseAddr("fd00::1"), Veth: "v"}, `container x: IPv4 address fd00::1 is not IPv4`},
		{Container{Name: "x", MAC: "02:42:ac:11:00:02", IPv6: a, Veth: "v"}, `container x: IPv6 address 172.17.0.2 is not IPv6`},
		{Container{Name: "x", MAC: "02:42:ac:11:00:02", Veth: "veth0123456789abc"}, `container x: interface name "veth0123456789abc" is not one`},
	} {
		id, err := PlanIdentity([]Container{tc.c, {Name: "ok", MAC: "02:42:ac:11:00:09", Veth: "vethok"}})
		if err == nil || err.Error() != tc.want || len(id.Chains) != 1 {
			t.Errorf("got %v (%d chains), want %s", err, len(id.Chains), tc.want)
		}
	}
	_, err = PlanIdentity([]Container{{Name: "a", MAC: "02:42:ac:11:00:02", Veth: "v"}, {Name: "b", MAC: "02:42:ac:11:00:03", Veth: "v"}})
	if err == nil || err.Error() != `containers a and b: both on interface "v"` {
		t.Errorf("one veth twice: %v", err)
	}
}

func TestContainerBridges(t *testing.T) {
	if got := (HostState{Docker: DockerBridge{Name: "docker0"}}).ContainerBridges(); len(got) != 1 || got[0] != "docker0" {
		t.Errorf("%q", got)
	}
}
