package linuxbridge

import (
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestPortsEvent: a port the watch saw on a watched bridge counts when it is
// deleted or detached, once; a link that never was one does not. (A link
// enslaved to a watched bridge is the e2e TestDockerIdentity's: a container
// started under a loop whose interval is 10 minutes.)
func TestPortsEvent(t *testing.T) {
	upd := func(typ uint16, index, master int) netlink.LinkUpdate {
		return netlink.LinkUpdate{Header: unix.NlMsghdr{Type: typ},
			Link: &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Index: index, MasterIndex: master}}}
	}
	p := ports{7: true, 9: true}
	for _, tc := range []struct {
		what string
		u    netlink.LinkUpdate
		want bool
	}{
		{"port 7 deleted", upd(unix.RTM_DELLINK, 7, 0), true},
		{"port 7 deleted again", upd(unix.RTM_DELLINK, 7, 0), false},
		{"link 8 without a master", upd(unix.RTM_NEWLINK, 8, 0), false},
		{"link 8 deleted", upd(unix.RTM_DELLINK, 8, 0), false},
		{"port 9 detached", upd(unix.RTM_NEWLINK, 9, 0), true},
		{"link 9 deleted after", upd(unix.RTM_DELLINK, 9, 0), false},
	} {
		if got := p.event(tc.u, []string{"docker0"}); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.what, got, tc.want)
		}
	}
}
