package cli

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
)

// defaultRouteAddress is the address of the interface that carries the default
// route (IPv4 first, then IPv6). More than one such interface or address is an
// error: the operator must choose with --address.
func defaultRouteAddress() (netip.Addr, error) {
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := netlink.RouteListFiltered(family, &netlink.Route{}, 0)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("list routes to find this host's address (use --address): %w", err)
		}
		var addrs []netip.Addr
		links := map[int]bool{}
		for _, r := range routes {
			if (r.Dst != nil && !isDefault(r.Dst.String())) || links[r.LinkIndex] || r.LinkIndex == 0 {
				continue
			}
			links[r.LinkIndex] = true
			link, err := netlink.LinkByIndex(r.LinkIndex)
			if err != nil {
				return netip.Addr{}, fmt.Errorf("find the default route's interface %d (use --address): %w", r.LinkIndex, err)
			}
			as, err := netlink.AddrList(link, family)
			if err != nil {
				return netip.Addr{}, fmt.Errorf("list the addresses of %s (use --address): %w", link.Attrs().Name, err)
			}
			for _, a := range as {
				if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.IsGlobalUnicast() {
					addrs = append(addrs, ip.Unmap())
				}
			}
		}
		switch len(addrs) {
		case 0:
			continue
		case 1:
			return addrs[0], nil
		default:
			s := make([]string, len(addrs))
			for i, a := range addrs {
				s[i] = a.String()
			}
			return netip.Addr{}, fmt.Errorf("this host's address is ambiguous: the default route's interfaces have %s: choose one with --address", strings.Join(s, ", "))
		}
	}
	return netip.Addr{}, errors.New("no default route with an address: give this host's underlay address with --address")
}

func isDefault(dst string) bool { return dst == "0.0.0.0/0" || dst == "::/0" }
