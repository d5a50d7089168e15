package linuxbridge

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// LinkState is what netlink reports about one link, for `ovsmesh status`.
type LinkState struct {
	Name   string         `json:"name"`
	Exists bool           `json:"exists"`
	Type   string         `json:"type,omitempty"`
	MTU    int            `json:"mtu,omitempty"`
	MAC    string         `json:"mac,omitempty"`
	Alias  string         `json:"alias,omitempty"`
	Up     bool           `json:"up"`
	Master string         `json:"master,omitempty"`
	Addrs  []netip.Prefix `json:"addresses,omitempty"`
}

// State reads the docker bridge and its port (the OVS bridge's internal
// interface) without changing anything.
func (b *Bridge) State(ctx context.Context, bridge, port string) (br, p LinkState, err error) {
	if err := ctx.Err(); err != nil {
		return br, p, err
	}
	read := func(name string) (LinkState, error) {
		st := LinkState{Name: name}
		l, err := retryDump(func() (netlink.Link, error) { return b.h.LinkByName(name) })
		if errors.As(err, new(netlink.LinkNotFoundError)) {
			return st, nil
		}
		if err != nil {
			return st, err
		}
		a := l.Attrs()
		st.Exists, st.Type, st.MTU, st.Up = true, l.Type(), a.MTU, a.Flags&net.FlagUp != 0
		st.MAC, st.Alias = a.HardwareAddr.String(), a.Alias
		if a.MasterIndex > 0 {
			if m, err := b.h.LinkByIndex(a.MasterIndex); err == nil {
				st.Master = m.Attrs().Name
			}
		}
		addrs, err := retryDump(func() ([]netlink.Addr, error) { return b.h.AddrList(l, netlink.FAMILY_ALL) })
		if err != nil {
			return st, err
		}
		for _, ad := range addrs {
			st.Addrs = append(st.Addrs, prefix(ad.IPNet))
		}
		return st, nil
	}
	if br, err = read(bridge); err != nil {
		return br, p, err
	}
	p, err = read(port)
	return br, p, err
}
