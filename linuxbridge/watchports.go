package linuxbridge

import (
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ports remembers, by ifindex, the links a watch saw enslaved to one of the
// watched bridges: the containers' veths, whose identity the pass enforces.
type ports map[int]bool

// event reports whether a link update is about a port of one of the bridges
// named: a link enslaved to one (a container's veth appears or changes), or
// the removal of a link that was (a container left). The kernel's update
// names the master by index only; the name is read once per update.
func (p ports) event(u netlink.LinkUpdate, bridges []string) bool {
	a := u.Link.Attrs()
	if u.Header.Type == unix.RTM_DELLINK {
		was := p[a.Index]
		delete(p, a.Index)
		return was
	}
	if a.MasterIndex <= 0 {
		was := p[a.Index] // detached from a watched bridge
		delete(p, a.Index)
		return was
	}
	m, err := netlink.LinkByIndex(a.MasterIndex)
	if err != nil || !slices.Contains(bridges, m.Attrs().Name) {
		return false
	}
	p[a.Index] = true
	return true
}
