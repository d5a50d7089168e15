package linuxbridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Bridge converges the Docker bridge of one network namespace: the one its netlink
// handle is bound to. It is safe for concurrent use: Apply calls are serialized.
type Bridge struct {
	mu  sync.Mutex
	h   *netlink.Handle
	log *slog.Logger
}

// New returns a Bridge that works through h (netlink.NewHandle() for the current
// network namespace, netlink.NewHandleAt(ns) for another). The caller keeps
// ownership of h.
func New(h *netlink.Handle, log *slog.Logger) *Bridge {
	return &Bridge{h: h, log: log}
}

// Apply makes the Linux bridge want.Name match want and returns one line per
// change, e.g. "add address 172.17.0.1/16 to docker0"; none when it already
// matched, in which case it made no netlink write. In order, it:
//   - creates the bridge if there is no link of that name; a link of another type
//     is an error, never replaced;
//   - marks the bridge as want.Owner's (its alias, see Alias; whether it may be
//     changed at all is the preflight's CheckOwner);
//   - sets the bridge's MTU and, when want.MAC is set, its Ethernet address (a
//     bridge without one takes the lowest address of its ports, so the
//     containers' gateway address would change as containers come and go);
//   - adds want.Address, then deletes the addresses that clash with the address
//     plan (see diffAddrs), logging each with its reason; other addresses stay;
//   - sets the MTU of the OVS bridge's internal interface want.Port, enslaves it to
//     the bridge and sets it up; it is an error if want.Port does not exist yet
//     (in a dry run, a change that says so);
//   - sets the bridge up.
//
// With dryRun it only reads and returns what it would change. On error it returns
// the changes made before the failure along with the error.
func (b *Bridge) Apply(ctx context.Context, want topology.DockerBridge, dryRun bool) ([]string, error) {
	if err := check(want); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p := &pass{b: b, dry: dryRun}
	br, err := p.ensureBridge(want)
	if err != nil {
		return p.changes, err
	}
	steps := []func() error{
		func() error { return p.alias(want.Name, br, want.Owner) },
		func() error { return p.mtu(want.Name, br, want.MTU) },
		func() error { return p.mac(want.Name, br, want.MAC) },
		func() error { return p.addrs(br, want) },
		func() error { return p.port(br, want) },
		func() error { return p.up(want.Name, br) },
	}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return p.changes, err
		}
		if err := step(); err != nil {
			return p.changes, err
		}
	}
	if len(p.changes) == 0 {
		b.log.Debug("docker bridge up to date", "bridge", want.Name, "port", want.Port)
	}
	return p.changes, nil
}

// check rejects a DockerBridge that topology would never produce.
func check(want topology.DockerBridge) error {
	switch {
	case want.Name == "" || len(want.Name) > unix.IFNAMSIZ-1:
		return fmt.Errorf("docker bridge name %q: want 1 to %d bytes", want.Name, unix.IFNAMSIZ-1)
	case want.Port == "":
		return fmt.Errorf("docker bridge %q: no port", want.Name)
	case want.Owner == "":
		return fmt.Errorf("docker bridge %q: no owner", want.Name)
	case !want.Address.IsValid() || !want.Address.Addr().Is4():
		return fmt.Errorf("docker bridge %q: address %s is not an IPv4 prefix", want.Name, want.Address)
	case !want.Subnet.IsValid():
		return fmt.Errorf("docker bridge %q: invalid subnet %s", want.Name, want.Subnet)
	case want.MTU < 68:
		return fmt.Errorf("docker bridge %q: MTU %d is below IPv4's minimum 68", want.Name, want.MTU)
	}
	if want.MAC != "" {
		hw, err := net.ParseMAC(want.MAC)
		if err != nil || len(hw) != 6 || hw[0]&1 != 0 {
			return fmt.Errorf("docker bridge %q: MAC %q is not a unicast Ethernet address", want.Name, want.MAC)
		}
	}
	return nil
}

// pass is one Apply: the changes made (or, dry, planned) so far.
type pass struct {
	b       *Bridge
	dry     bool
	changes []string
}

// do records a change and, unless dry, makes it with fn. The change line also
// starts the error message.
func (p *pass) do(change string, fn func() error) error {
	if !p.dry {
		if err := fn(); err != nil {
			return fmt.Errorf("%s: %w", change, err)
		}
		p.b.log.Debug("docker bridge changed", "change", change)
	}
	p.changes = append(p.changes, change)
	return nil
}

// link reads a link by name; nil without error when there is none.
func (p *pass) link(name string) (netlink.Link, error) {
	l, err := retryDump(func() (netlink.Link, error) { return p.b.h.LinkByName(name) })
	if _, ok := errors.AsType[netlink.LinkNotFoundError](err); ok {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read link %q: %w", name, err)
	}
	return l, nil
}

// ensureBridge returns the bridge, created if missing (with its MTU already), or
// nil in a dry run that would create it.
func (p *pass) ensureBridge(want topology.DockerBridge) (netlink.Link, error) {
	l, err := p.link(want.Name)
	if err != nil {
		return nil, err
	}
	if l == nil {
		create := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: want.Name, MTU: want.MTU}}
		change := fmt.Sprintf("create bridge %s mtu %d alias %s", want.Name, want.MTU, Alias(want.Owner))
		if want.MAC != "" {
			create.HardwareAddr, _ = net.ParseMAC(want.MAC) // checked by check
			change += " address " + want.MAC
		}
		err := p.do(change, func() error {
			// EEXIST: created meanwhile by someone else; the re-read checks it.
			if err := p.b.h.LinkAdd(create); err != nil && !errors.Is(err, unix.EEXIST) {
				return err
			}
			// The kernel takes no alias at creation (IFLA_IFALIAS is set only
			// on an existing link).
			return p.b.h.LinkSetAlias(create, Alias(want.Owner))
		})
		if err != nil || p.dry {
			return nil, err
		}
		if l, err = p.link(want.Name); err != nil {
			return nil, err
		}
		if l == nil {
			return nil, fmt.Errorf("bridge %q is gone right after its creation", want.Name)
		}
	}
	if _, ok := l.(*netlink.Bridge); !ok {
		return nil, fmt.Errorf("link %q exists with type %q, want a bridge: not replacing it", want.Name, l.Type())
	}
	return l, nil
}

// mtu sets a link's MTU; l is nil for a link a dry run would have created right.
func (p *pass) mtu(name string, l netlink.Link, mtu int) error {
	if l == nil || l.Attrs().MTU == mtu {
		return nil
	}
	return p.do(fmt.Sprintf("set %s mtu %d (was %d)", name, mtu, l.Attrs().MTU), func() error {
		return p.b.h.LinkSetMTU(l, mtu)
	})
}

// mac sets the bridge's Ethernet address; l is nil for a link a dry run would
// have created right, mac "" leaves the address to the kernel.
func (p *pass) mac(name string, l netlink.Link, mac string) error {
	if l == nil || mac == "" {
		return nil
	}
	want, _ := net.ParseMAC(mac) // checked by check
	have := l.Attrs().HardwareAddr
	if bytes.Equal(have, want) {
		return nil
	}
	return p.do(fmt.Sprintf("set %s address %s (was %s)", name, want, have), func() error {
		return p.b.h.LinkSetHardwareAddr(l, want)
	})
}

// up sets a link up; l is nil for a link a dry run would have created.
func (p *pass) up(name string, l netlink.Link) error {
	if l != nil && l.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	return p.do("set "+name+" up", func() error { return p.b.h.LinkSetUp(l) })
}

// addrs adds want.Address to the bridge, then deletes the clashing addresses.
func (p *pass) addrs(br netlink.Link, want topology.DockerBridge) error {
	var list []netlink.Addr
	if br != nil {
		var err error
		list, err = retryDump(func() ([]netlink.Addr, error) { return p.b.h.AddrList(br, netlink.FAMILY_V4) })
		if err != nil {
			return fmt.Errorf("list addresses of %q: %w", want.Name, err)
		}
	}
	have := make([]addr, 0, len(list))
	byPrefix := make(map[netip.Prefix]netlink.Addr, len(list))
	for _, a := range list {
		pfx := prefix(a.IPNet)
		have = append(have, addr{prefix: pfx, secondary: a.Flags&unix.IFA_F_SECONDARY != 0})
		byPrefix[pfx] = a
	}
	plan := diffAddrs(want.Address, want.Subnet, have)
	if err := p.delAddrs(br, want.Name, plan.before, byPrefix); err != nil {
		return err
	}
	if plan.add {
		err := p.do(fmt.Sprintf("add address %s to %s", want.Address, want.Name), func() error {
			a := &netlink.Addr{IPNet: &net.IPNet{IP: want.Address.Addr().AsSlice(), Mask: net.CIDRMask(want.Address.Bits(), 32)}}
			// EEXIST: a secondary the kernel promoted when its primary went.
			if err := p.b.h.AddrAdd(br, a); err != nil && !errors.Is(err, unix.EEXIST) {
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return p.delAddrs(br, want.Name, plan.after, byPrefix)
}

// delAddrs deletes addresses from the bridge.
func (p *pass) delAddrs(br netlink.Link, name string, del []removal, byPrefix map[netip.Prefix]netlink.Addr) error {
	for _, r := range del {
		a := byPrefix[r.addr]
		err := p.do(fmt.Sprintf("delete address %s from %s: %s", r.addr, name, r.reason), func() error {
			return p.b.h.AddrDel(br, &a)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// port brings the OVS bridge's internal interface to the MTU, into the bridge and
// up. br is nil in a dry run that would create the bridge.
func (p *pass) port(br netlink.Link, want topology.DockerBridge) error {
	l, err := p.link(want.Port)
	if err != nil {
		return err
	}
	if l == nil && p.dry {
		// A dry run on a host whose OVS bridge does not exist yet: the real pass
		// creates it in its OVSDB step before this one; list what the real pass will do.
		// ovs-vswitchd creates it with the planned MTU (its mtu_request).
		p.changes = append(p.changes, fmt.Sprintf("attach %s to %s", want.Port, want.Name), fmt.Sprintf("set %s up", want.Port))
		return nil
	}
	if l == nil {
		return fmt.Errorf("port %q of docker bridge %q: no such link (ovs-vswitchd has not created the OVS bridge's internal interface yet)", want.Port, want.Name)
	}
	if err := p.mtu(want.Port, l, want.MTU); err != nil {
		return err
	}
	if br == nil || l.Attrs().MasterIndex != br.Attrs().Index {
		// Never enslave an interface that carries addresses, even with --take-over.
		if err := p.b.checkPort(want); err != nil {
			return err
		}
		change := fmt.Sprintf("attach %s to %s", want.Port, want.Name)
		if m := l.Attrs().MasterIndex; m != 0 {
			change += fmt.Sprintf(" (was attached to ifindex %d)", m)
		}
		if err := p.do(change, func() error { return p.b.h.LinkSetMasterByIndex(l, br.Attrs().Index) }); err != nil {
			return err
		}
		if m := l.Attrs().MasterIndex; m != 0 && !p.dry {
			if err := p.retire(m, want); err != nil {
				return err
			}
		}
	}
	return p.up(want.Port, l)
}

// prefix converts a netlink address to a netip.Prefix.
func prefix(n *net.IPNet) netip.Prefix {
	a, _ := netip.AddrFromSlice(n.IP)
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), bits)
}
