package linuxbridge

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestRenamedDockerBridge: when docker_bridge is renamed, the OVS bridge's port
// moves to the new bridge and the former one is deleted, or, while it still
// holds ports (containers), only loses its addresses in the container subnet.
func TestRenamedDockerBridge(t *testing.T) {
	for _, withContainer := range []bool{false, true} {
		n := newNS(t)
		n.addPort(t, "br0")
		b := New(n.h, testLogger(t))
		apply(t, b, want, false)
		if withContainer {
			n.addPort(t, "vethc1")
			n.ip(t, "link", "set", "vethc1", "master", "docker0")
		}
		renamed := want
		renamed.Name = "dockerx"
		got := strings.Join(apply(t, b, renamed, false), "\n")
		s := n.state(t)
		if withContainer {
			if !strings.Contains(got, "delete address 172.17.0.1/16 from docker0: the former docker bridge (docker_bridge is dockerx now) keeps 1 ports") ||
				!strings.Contains(s, "docker0 bridge") || strings.Contains(s, "docker0 inet") {
				t.Errorf("with a container: changes\n%s\nstate\n%s", got, s)
			}
		} else if !strings.Contains(got, "delete bridge docker0: the former docker bridge (docker_bridge is dockerx now), no port left") ||
			strings.Contains(s, "docker0") {
			t.Errorf("without a container: changes\n%s\nstate\n%s", got, s)
		}
		if !strings.Contains(s, "br0 tun mtu 1462 master dockerx up") || !strings.Contains(s, "dockerx inet 172.17.0.1/16") {
			t.Errorf("the new bridge is not as planned:\n%s", s)
		}
		if again := apply(t, b, renamed, false); len(again) > 0 {
			t.Errorf("second apply after the rename: %q", again)
		}
	}
}

// TestCheckPortAndAddress: an internal interface with an address is refused,
// one with only an IPv6 link-local address passes, and the host's address must
// be on some interface.
func TestCheckPortAndAddress(t *testing.T) {
	n := newNS(t)
	n.addPort(t, "br0")
	n.ip(t, "link", "set", "br0", "up")
	b := New(n.h, testLogger(t))
	ctx := context.Background()
	if err := b.CheckPort(ctx, want); err != nil {
		t.Errorf("port without addresses refused: %v", err)
	}
	n.ip(t, "addr", "add", "192.0.2.7/24", "dev", "br0")
	err := b.CheckPort(ctx, want)
	if !errors.Is(err, ErrPortHasAddresses) || !strings.Contains(err.Error(), `interface "br0" of the OVS bridge carries IP addresses (192.0.2.7/24)`) {
		t.Errorf("port with an address: %v", err)
	}
	if _, err := b.Apply(ctx, want, false); !errors.Is(err, ErrPortHasAddresses) {
		t.Errorf("Apply enslaved a port with an address: %v", err)
	}
	if err := b.CheckAddress(ctx, netip.MustParseAddr("192.0.2.7")); err != nil {
		t.Errorf("own address: %v", err)
	}
	err = b.CheckAddress(ctx, netip.MustParseAddr("192.0.2.8"))
	if !errors.Is(err, ErrNotThisMachine) || !strings.Contains(err.Error(), "192.0.2.8 is not an address of this machine (its addresses: 172.17.0.1, 192.0.2.7)") {
		t.Errorf("foreign address: %v", err)
	}
}
