package linuxbridge

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestDefaultAddrs: only the interfaces of default routes count, each once, and
// only their global unicast addresses.
func TestDefaultAddrs(t *testing.T) {
	_, lan, _ := net.ParseCIDR("10.0.0.0/8")
	_, any4, _ := net.ParseCIDR("0.0.0.0/0")
	routes := []netlink.Route{
		{LinkIndex: 2},            // default (no Dst)
		{LinkIndex: 2, Dst: any4}, // the same interface again
		{LinkIndex: 3, Dst: lan},  // not a default route
		{LinkIndex: 0},            // no interface (e.g. a blackhole)
	}
	addrs := map[int][]netip.Addr{
		2: {netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("fe80::1")},
		3: {netip.MustParseAddr("10.0.0.1")},
	}
	got, err := defaultAddrs(routes, func(i int) ([]netip.Addr, error) { return addrs[i], nil })
	if err != nil || len(got) != 1 || got[0] != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("defaultAddrs = %v, %v; want [192.0.2.1]", got, err)
	}
}

// TestDefaultRouteAddress reads a namespace's default route: none, one address,
// then two (ambiguous).
func TestDefaultRouteAddress(t *testing.T) {
	n := newNS(t)
	if _, err := DefaultRouteAddress(n.h); !errors.Is(err, ErrNoDefaultAddress) {
		t.Errorf("without a default route: %v, want ErrNoDefaultAddress", err)
	}
	n.ip(t, "link", "add", "uplink", "type", "veth", "peer", "name", "uplink-peer")
	n.ip(t, "link", "set", "uplink", "up")
	n.ip(t, "link", "set", "uplink-peer", "up")
	n.ip(t, "addr", "add", "198.18.0.1/24", "dev", "uplink")
	n.ip(t, "route", "add", "default", "via", "198.18.0.254", "dev", "uplink")
	if got, err := DefaultRouteAddress(n.h); err != nil || got != netip.MustParseAddr("198.18.0.1") {
		t.Errorf("one address: %v, %v; want 198.18.0.1", got, err)
	}
	n.ip(t, "addr", "add", "198.18.0.2/24", "dev", "uplink")
	var amb *AmbiguousAddressError
	if _, err := DefaultRouteAddress(n.h); !errors.As(err, &amb) || len(amb.Addrs) != 2 {
		t.Errorf("two addresses: %v, want an AmbiguousAddressError with both", err)
	} else if want := "this host's address is ambiguous: the default route's interfaces have 198.18.0.1, 198.18.0.2"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}
