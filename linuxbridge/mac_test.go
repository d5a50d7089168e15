package linuxbridge

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// linkMAC reads a link's Ethernet address with ip -j link.
func (n *testNS) linkMAC(t *testing.T, name string) string {
	t.Helper()
	var links []struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal([]byte(n.ip(t, "-j", "link", "show", "dev", name)), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip link show %s: %v", name, err)
	}
	return links[0].Address
}

// TestApplyMAC: the bridge is created with the pinned address, keeps it when a
// port with a lower address joins (a bridge without a set address would take
// it), a changed address is repaired, and a converged bridge sees no write.
func TestApplyMAC(t *testing.T) {
	n := newNS(t)
	n.addPort(t, "br0")
	w := want
	w.MAC = "02:42:ac:11:00:01"
	b := New(n.h, testLogger(t))

	changes := apply(t, b, w, false)
	if len(changes) == 0 || changes[0] != "create bridge docker0 mtu 1462 alias ovsmesh-owner=docker1 address 02:42:ac:11:00:01" {
		t.Errorf("first change %q, want the creation with the address", changes)
	}
	if got := n.linkMAC(t, "docker0"); got != w.MAC {
		t.Errorf("docker0 address %s after creation, want %s", got, w.MAC)
	}

	// A container's veth with the lowest possible unicast address joins.
	n.ip(t, "link", "add", "veth-c", "address", "00:00:00:00:00:01", "type", "veth", "peer", "name", "veth-p")
	n.ip(t, "link", "set", "veth-c", "master", "docker0", "up")
	if got := n.linkMAC(t, "docker0"); got != w.MAC {
		t.Errorf("docker0 address %s once a port with a lower one joined, want %s", got, w.MAC)
	}
	var again []string
	if events := n.quiet(t, func() { again = apply(t, b, w, false) }); again != nil || events != "" {
		t.Errorf("Apply on a converged bridge: changes %q, netlink events:\n%s", again, events)
	}

	n.ip(t, "link", "set", "docker0", "address", "02:42:ac:11:00:99")
	wantChanges := []string{"set docker0 address 02:42:ac:11:00:01 (was 02:42:ac:11:00:99)"}
	if got := apply(t, b, w, true); !slices.Equal(got, wantChanges) {
		t.Errorf("dry run on a changed address: %q, want %q", got, wantChanges)
	}
	if got := apply(t, b, w, false); !slices.Equal(got, wantChanges) {
		t.Errorf("Apply on a changed address: %q, want %q", got, wantChanges)
	}
	if got := n.linkMAC(t, "docker0"); got != w.MAC {
		t.Errorf("docker0 address %s after the repair, want %s", got, w.MAC)
	}
}

// TestApplyMACOnExistingBridge: a bridge made without ovsmesh (Docker's, or by
// hand) gets the pinned address on the first pass.
func TestApplyMACOnExistingBridge(t *testing.T) {
	n := newNS(t)
	n.addPort(t, "br0")
	n.ip(t, "link", "add", "docker0", "type", "bridge")
	old := n.linkMAC(t, "docker0")
	w := want
	w.MAC = "02:42:ac:11:00:01"
	changes := apply(t, New(n.h, testLogger(t)), w, false)
	if !slices.Contains(changes, "set docker0 address 02:42:ac:11:00:01 (was "+old+")") {
		t.Errorf("changes %q lack the address", changes)
	}
	if got := n.linkMAC(t, "docker0"); got != w.MAC {
		t.Errorf("docker0 address %s, want %s", got, w.MAC)
	}
}

// TestCheckMAC: a MAC topology would never plan is refused before any write.
func TestCheckMAC(t *testing.T) {
	for _, mac := range []string{"01:00:5e:00:00:01", "not-a-mac", "02:42:ac:11:00:01:02:03"} {
		w := want
		w.MAC = mac
		_, err := New(nil, nil).Apply(context.Background(), w, true)
		if err == nil || !strings.Contains(err.Error(), "is not a unicast Ethernet address") {
			t.Errorf("MAC %q: err = %v", mac, err)
		}
	}
}
