package linuxbridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// ErrNoVeth says that a container has no veth on the bridge (yet): Docker
// reports its endpoint a moment before the veth is enslaved, or after the
// container left.
var ErrNoVeth = errors.New("no veth of the container on the bridge")

// Veth returns the name of the host-side veth on bridge of the container
// whose process is pid: the interface of the bridge that is the peer of one
// of the container's own interfaces. It asks the kernel from both sides, as
// `ip link` shows it (eth0@if8 in the container, vethf47bb69@if7 on the
// host): a veth in the container's network namespace (/proc/PID/ns/net)
// whose peer is in another namespace names its peer's ifindex (IFLA_LINK),
// and that ifindex must be a veth of the bridge that names the container's
// interface in turn. Neither the container's interface name nor its MAC is
// trusted: a container with NET_ADMIN can change both. It reads only.
func (b *Bridge) Veth(ctx context.Context, bridge string, pid int) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if pid <= 0 {
		return "", fmt.Errorf("pid %d: the container is not running", pid)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	br, err := retryDump(func() (netlink.Link, error) { return b.h.LinkByName(bridge) })
	if err != nil {
		return "", fmt.Errorf("read bridge %s: %w", bridge, err)
	}
	ns, err := netns.GetFromPath(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return "", fmt.Errorf("open the network namespace of pid %d: %w", pid, err)
	}
	defer ns.Close()
	ch, err := netlink.NewHandleAt(ns)
	if err != nil {
		return "", fmt.Errorf("netlink in the network namespace of pid %d: %w", pid, err)
	}
	defer ch.Close()
	inside, err := retryDump(ch.LinkList)
	if err != nil {
		return "", fmt.Errorf("list the links of pid %d: %w", pid, err)
	}
	var found []string
	for _, l := range inside {
		if name, ok := b.peerOn(l, br.Attrs().Index); ok {
			found = append(found, name)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("pid %d: %w %s", pid, ErrNoVeth, bridge)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("pid %d: %d of its interfaces have a peer on %s (%q): one expected", pid, len(found), bridge, found)
}

// peerOn returns the host-side peer of the container's link l when it is a
// veth enslaved to the bridge of index master whose own peer is l.
func (b *Bridge) peerOn(l netlink.Link, master int) (string, bool) {
	a := l.Attrs()
	if l.Type() != "veth" || a.NetNsID < 0 || a.ParentIndex <= 0 {
		return "", false // not a veth, or its peer is in the same namespace
	}
	peer, err := b.h.LinkByIndex(a.ParentIndex)
	if err != nil {
		return "", false
	}
	p := peer.Attrs()
	if peer.Type() != "veth" || p.MasterIndex != master || p.NetNsID < 0 || p.ParentIndex != a.Index {
		return "", false
	}
	return p.Name, true
}
