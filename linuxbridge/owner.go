package linuxbridge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/ovsmesh/ovsmesh/topology"
)

// ErrNotOurs is wrapped by the refusal to change a Linux bridge that ovsmesh did
// not build and that is not Docker's own docker0, or that another host marked.
var ErrNotOurs = errors.New("was not built by ovsmesh")

// Alias is the interface alias (IFLA_IFALIAS, `ip link set dev X alias ...`)
// that marks the Linux bridges ovsmesh builds or adopts: "ovsmesh-owner=<host>",
// the form of the mark ovsmesh puts on its OVSDB rows. The alias is the one
// free-form attribute a link carries that the kernel keeps as it is and that
// `ip link show` prints ("alias ovsmesh-owner=docker1"); nothing else uses it on
// a bridge (Docker, libvirt and LXD set none).
func Alias(owner string) string { return topology.OwnerKey + "=" + owner }

// DockerDefault is the name of Docker's default bridge: a bridge of that name
// whose ports are all containers' veths is Docker's, and ovsmesh exists to take it.
const DockerDefault = "docker0"

// CheckOwner reports ErrNotOurs unless ovsmesh may change the Linux bridge
// want.Name: it does not exist (ovsmesh builds it), or it carries this host's
// mark (Alias), or it holds the OVS bridge's internal interface want.Port (ovsmesh
// attached it: a bridge built before the mark, or by the interfaces file at
// boot), or it is Docker's docker0 (named so, its ports veths only). takeOver
// accepts any bridge. It only reads.
func (b *Bridge) CheckOwner(ctx context.Context, want topology.DockerBridge, takeOver bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := &pass{b: b, dry: true}
	l, err := p.link(want.Name)
	if err != nil || l == nil || takeOver {
		return err
	}
	if _, ok := l.(*netlink.Bridge); !ok {
		return nil // never changed: Apply refuses another type of link
	}
	alias := l.Attrs().Alias
	if alias == Alias(want.Owner) {
		return nil
	}
	if other, ok := strings.CutPrefix(alias, topology.OwnerKey+"="); ok {
		return fmt.Errorf("Linux bridge %q %w for this host: alias %s, and this is %q (is --host right, or is this machine a clone of %s?): refusing to change it; pass --take-over to adopt it",
			want.Name, ErrNotOurs, alias, want.Owner, other)
	}
	ports, err := p.ports(l)
	if err != nil {
		return err
	}
	docker := want.Name == DockerDefault
	var kinds []string
	for _, port := range ports {
		if port.Attrs().Name == want.Port {
			return nil
		}
		if port.Type() != "veth" {
			docker = false
		}
		kinds = append(kinds, port.Attrs().Name+" ("+port.Type()+")")
	}
	if docker {
		return nil
	}
	held := "no ports"
	if len(kinds) > 0 {
		held = "its ports: " + strings.Join(kinds, ", ")
	}
	return fmt.Errorf("Linux bridge %q %w (no alias %s, %s): refusing to change its MTU, MAC and addresses or to attach %s to it; pass --take-over to adopt it",
		want.Name, ErrNotOurs, Alias(want.Owner), held, want.Port)
}

// ports lists the links enslaved to l.
func (p *pass) ports(l netlink.Link) ([]netlink.Link, error) {
	links, err := retryDump(p.b.h.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []netlink.Link
	for _, o := range links {
		if o.Attrs().MasterIndex == l.Attrs().Index {
			out = append(out, o)
		}
	}
	return out, nil
}

// alias marks the bridge as this host's; l is nil for a link a dry run would
// have created (with the mark).
func (p *pass) alias(name string, l netlink.Link, owner string) error {
	want := Alias(owner)
	if l == nil || l.Attrs().Alias == want {
		return nil
	}
	change := fmt.Sprintf("set %s alias %s", name, want)
	if was := l.Attrs().Alias; was != "" {
		change += fmt.Sprintf(" (was %s)", was)
	}
	return p.do(change, func() error { return p.b.h.LinkSetAlias(l, want) })
}
