package linuxbridge

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
)

// ErrNoDefaultAddress: no interface that carries a default route has a global
// unicast address.
var ErrNoDefaultAddress = errors.New("no default route with an address")

// AmbiguousAddressError: the default route's interfaces have more than one
// global unicast address of the same family, and nothing says which one is the
// host's.
type AmbiguousAddressError struct{ Addrs []netip.Addr }

func (e *AmbiguousAddressError) Error() string {
	s := make([]string, len(e.Addrs))
	for i, a := range e.Addrs {
		s[i] = a.String()
	}
	return "this host's address is ambiguous: the default route's interfaces have " + strings.Join(s, ", ")
}

// DefaultRouteAddress returns the address of the interface that carries the
// default route of the main table (IPv4 first, then IPv6), read through h with
// interrupted dumps retried. It reads only. More than one such address of the
// first family that has any is an *AmbiguousAddressError; none at all is
// ErrNoDefaultAddress.
func DefaultRouteAddress(h *netlink.Handle) (netip.Addr, error) {
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := retryDump(func() ([]netlink.Route, error) { return h.RouteListFiltered(family, &netlink.Route{}, 0) })
		if err != nil {
			return netip.Addr{}, fmt.Errorf("list routes to find this host's address: %w", err)
		}
		addrs, err := defaultAddrs(routes, func(index int) ([]netip.Addr, error) { return linkAddrs(h, index, family) })
		if err != nil {
			return netip.Addr{}, err
		}
		switch len(addrs) {
		case 0:
			continue
		case 1:
			return addrs[0], nil
		default:
			return netip.Addr{}, &AmbiguousAddressError{Addrs: addrs}
		}
	}
	return netip.Addr{}, ErrNoDefaultAddress
}

// defaultAddrs returns the global unicast addresses (addrsOf) of the interfaces
// that carry a default route among routes, each interface once.
func defaultAddrs(routes []netlink.Route, addrsOf func(index int) ([]netip.Addr, error)) ([]netip.Addr, error) {
	var addrs []netip.Addr
	links := map[int]bool{}
	for _, r := range routes {
		if (r.Dst != nil && !isDefault(r.Dst.String())) || links[r.LinkIndex] || r.LinkIndex == 0 {
			continue
		}
		links[r.LinkIndex] = true
		as, err := addrsOf(r.LinkIndex)
		if err != nil {
			return nil, err
		}
		for _, ip := range as {
			if ip.IsGlobalUnicast() {
				addrs = append(addrs, ip.Unmap())
			}
		}
	}
	return addrs, nil
}

// linkAddrs lists the addresses of the family on the interface with the index.
func linkAddrs(h *netlink.Handle, index, family int) ([]netip.Addr, error) {
	link, err := h.LinkByIndex(index)
	if err != nil {
		return nil, fmt.Errorf("find the default route's interface %d: %w", index, err)
	}
	as, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(link, family) })
	if err != nil {
		return nil, fmt.Errorf("list the addresses of %s: %w", link.Attrs().Name, err)
	}
	var out []netip.Addr
	for _, a := range as {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip)
		}
	}
	return out, nil
}

func isDefault(dst string) bool { return dst == "0.0.0.0/0" || dst == "::/0" }
