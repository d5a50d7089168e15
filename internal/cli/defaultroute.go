package cli

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/ovsmesh/ovsmesh/linuxbridge"
)

// defaultRouteAddress is this host's address when --address is not given: the
// address of the interface that carries the default route
// (linuxbridge.DefaultRouteAddress), with errors that say to use --address.
func defaultRouteAddress() (netip.Addr, error) {
	nl, err := netlink.NewHandle()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("open a netlink socket to find this host's address (use --address): %w", err)
	}
	defer nl.Close()
	addr, err := linuxbridge.DefaultRouteAddress(nl)
	var amb *linuxbridge.AmbiguousAddressError
	switch {
	case err == nil:
		return addr, nil
	case errors.Is(err, linuxbridge.ErrNoDefaultAddress):
		return netip.Addr{}, errors.New("no default route with an address: give this host's underlay address with --address")
	case errors.As(err, &amb):
		return netip.Addr{}, fmt.Errorf("%w: choose one with --address", err)
	}
	return netip.Addr{}, fmt.Errorf("%w (use --address)", err)
}
