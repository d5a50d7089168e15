package linuxbridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"

	"github.com/ovsmesh/ovsmesh/topology"
)

// AttachNetworks joins the Linux bridge of each of the host's Docker networks to
// the mesh: it sets the bridge's MTU and up, and brings the network's OVS
// internal port (want[i].Port) to the MTU, into the bridge and up. Docker builds
// the bridge (the networks step creates the Docker network first) and owns it:
// AttachNetworks never creates, deletes nor addresses it, and a link of that name
// that is not a bridge is an error. It returns one line per change, none when
// everything matched, in which case it made no netlink write. Each network is
// handled even when another fails; the errors are joined. With dryRun it only
// reads.
func (b *Bridge) AttachNetworks(ctx context.Context, want []topology.NetworkState, dryRun bool) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := &pass{b: b, dry: dryRun}
	var errs []error
	for _, n := range want {
		if err := ctx.Err(); err != nil {
			return p.changes, err
		}
		errs = append(errs, p.attachNetwork(n))
	}
	return p.changes, errors.Join(errs...)
}

func (p *pass) attachNetwork(n topology.NetworkState) error {
	br, err := p.link(n.Bridge)
	if err != nil {
		return err
	}
	if br == nil {
		if p.dry {
			p.changes = append(p.changes, fmt.Sprintf("attach %s to %s (once Docker has built it)", n.Port, n.Bridge))
			return nil
		}
		return fmt.Errorf("bridge %q of Docker network %q: no such link (Docker has not built it: see the networks step)", n.Bridge, n.Name)
	}
	if _, ok := br.(*netlink.Bridge); !ok {
		return fmt.Errorf("link %q of Docker network %q has type %q, want a bridge: not using it", n.Bridge, n.Name, br.Type())
	}
	if err := p.mtu(n.Bridge, br, n.MTU); err != nil {
		return err
	}
	port, err := p.link(n.Port)
	if err != nil {
		return err
	}
	if port == nil {
		if p.dry {
			p.changes = append(p.changes, fmt.Sprintf("attach %s to %s", n.Port, n.Bridge), fmt.Sprintf("set %s up", n.Port))
			return nil
		}
		return fmt.Errorf("port %q of Docker network %q: no such link (ovs-vswitchd has not created the internal interface yet)", n.Port, n.Name)
	}
	if err := p.mtu(n.Port, port, n.MTU); err != nil {
		return err
	}
	if port.Attrs().MasterIndex != br.Attrs().Index {
		if err := p.do(fmt.Sprintf("attach %s to %s", n.Port, n.Bridge), func() error {
			return p.b.h.LinkSetMasterByIndex(port, br.Attrs().Index)
		}); err != nil {
			return err
		}
	}
	if err := p.up(n.Port, port); err != nil {
		return err
	}
	return p.up(n.Bridge, br)
}
