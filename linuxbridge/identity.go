package linuxbridge

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/ovsmesh/ovsmesh/topology"
)

// ErrPortHasAddresses is wrapped by the refusal to enslave an interface that
// carries IP addresses: it is most likely the host's own uplink (a hand-built br0
// holding the host's address), and moving it into docker0 cuts the host off.
var ErrPortHasAddresses = errors.New("carries IP addresses")

// ErrNotThisMachine is wrapped by the error about a host address that no interface
// of this machine (this network namespace) carries.
var ErrNotThisMachine = errors.New("is not an address of this machine")

// CheckPort reports ErrPortHasAddresses when the OVS bridge's internal interface
// want.Port exists and carries an IPv4 address or an IPv6 address other than a
// link-local one (the kernel gives those to every interface that is up). A port
// that does not exist yet passes. It only reads.
func (b *Bridge) CheckPort(ctx context.Context, want topology.DockerBridge) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.checkPort(want)
}

func (b *Bridge) checkPort(want topology.DockerBridge) error {
	p := &pass{b: b, dry: true}
	l, err := p.link(want.Port)
	if err != nil || l == nil {
		return err
	}
	addrs, err := p.addrsOf(l)
	if err != nil {
		return err
	}
	var kept []string
	for _, a := range addrs {
		if !a.Addr().IsLinkLocalUnicast() {
			kept = append(kept, a.String())
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return fmt.Errorf("interface %q of the OVS bridge %w (%s): ovsmesh never enslaves it into %s (is it this host's uplink?)",
		want.Port, ErrPortHasAddresses, strings.Join(kept, ", "), want.Name)
}

// CheckAddress reports ErrNotThisMachine unless some interface of the handle's
// network namespace carries addr. It only reads.
func (b *Bridge) CheckAddress(ctx context.Context, addr netip.Addr) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	list, err := retryDump(func() ([]netlink.Addr, error) { return b.h.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return fmt.Errorf("list this machine's addresses: %w", err)
	}
	addr = addr.Unmap()
	have := make([]netip.Addr, 0, len(list))
	for _, a := range list {
		pfx := prefix(a.IPNet)
		if pfx.Addr() == addr {
			return nil
		}
		if a := pfx.Addr(); !a.IsLoopback() && !a.IsLinkLocalUnicast() {
			have = append(have, a)
		}
	}
	slices.SortFunc(have, netip.Addr.Compare)
	have = slices.Compact(have)
	names := make([]string, len(have))
	for i, a := range have {
		names[i] = a.String()
	}
	if len(names) == 0 {
		names = []string{"none but loopback and link-local ones"}
	}
	return fmt.Errorf("%s %w (its addresses: %s)", addr, ErrNotThisMachine, strings.Join(names, ", "))
}

// addrsOf lists the addresses of a link, both families.
func (p *pass) addrsOf(l netlink.Link) ([]netip.Prefix, error) {
	list, err := retryDump(func() ([]netlink.Addr, error) { return p.b.h.AddrList(l, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("list addresses of %q: %w", l.Attrs().Name, err)
	}
	out := make([]netip.Prefix, len(list))
	for i, a := range list {
		out[i] = prefix(a.IPNet)
	}
	return out, nil
}

// retire cleans up the Linux bridge that held the OVS bridge's internal port
// before this pass moved it to want.Name (docker_bridge was renamed): ovsmesh put
// the port there, so the bridge was its docker bridge. Its addresses in the
// container subnet go (they would route the subnet to a dead bridge beside the
// new one), and the bridge itself goes once no port is left on it; a bridge that
// still holds ports (containers Docker attached) stays, without those addresses.
func (p *pass) retire(oldIndex int, want topology.DockerBridge) error {
	old, err := retryDump(func() (netlink.Link, error) { return p.b.h.LinkByIndex(oldIndex) })
	if err != nil {
		return fmt.Errorf("read the former docker bridge (ifindex %d): %w", oldIndex, err)
	}
	if _, ok := old.(*netlink.Bridge); !ok || old.Attrs().Name == want.Name {
		return nil
	}
	name := old.Attrs().Name
	links, err := retryDump(p.b.h.LinkList)
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	ports := 0
	for _, l := range links {
		if l.Attrs().MasterIndex == oldIndex {
			ports++
		}
	}
	if ports == 0 {
		return p.do(fmt.Sprintf("delete bridge %s: the former docker bridge (docker_bridge is %s now), no port left", name, want.Name),
			func() error { return p.b.h.LinkDel(old) })
	}
	list, err := retryDump(func() ([]netlink.Addr, error) { return p.b.h.AddrList(old, netlink.FAMILY_V4) })
	if err != nil {
		return fmt.Errorf("list addresses of %q: %w", name, err)
	}
	for _, a := range list {
		if pfx := prefix(a.IPNet); want.Subnet.Contains(pfx.Addr()) {
			change := fmt.Sprintf("delete address %s from %s: the former docker bridge (docker_bridge is %s now) keeps %d ports", pfx, name, want.Name, ports)
			if err := p.do(change, func() error { return p.b.h.AddrDel(old, &a) }); err != nil {
				return err
			}
		}
	}
	return nil
}
