package linuxbridge

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

var appNetwork = topology.NetworkState{Name: "app", Bridge: "om-app", Port: "ov-app", MTU: 1462}

// TestAttachNetworks: the network's OVS port joins the bridge Docker built, at
// the MTU, without touching the bridge's address; a second pass makes no
// netlink write; a bridge Docker has not built yet is an error naming it.
func TestAttachNetworks(t *testing.T) {
	n := newNS(t)
	n.addPort(t, "ov-app")
	b := New(n.h, testLogger(t))
	ctx := context.Background()
	_, err := b.AttachNetworks(ctx, []topology.NetworkState{appNetwork}, false)
	if err == nil || !strings.Contains(err.Error(), `bridge "om-app" of Docker network "app": no such link`) {
		t.Fatalf("no bridge yet: %v", err)
	}
	n.ip(t, "link", "add", "om-app", "type", "bridge")
	n.ip(t, "addr", "add", "10.20.0.1/16", "dev", "om-app")
	got, err := b.AttachNetworks(ctx, []topology.NetworkState{appNetwork}, false)
	want := []string{"set om-app mtu 1462 (was 1500)", "set ov-app mtu 1462 (was 1500)", "attach ov-app to om-app", "set ov-app up", "set om-app up"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("attach: %q, %v; want %q", got, err, want)
	}
	s := n.state(t)
	if !strings.Contains(s, "ov-app tun mtu 1462 master om-app up") || !strings.Contains(s, "om-app inet 10.20.0.1/16") {
		t.Errorf("state:\n%s", s)
	}
	var changes []string
	if events := n.quiet(t, func() { changes, err = b.AttachNetworks(ctx, []topology.NetworkState{appNetwork}, false) }); changes != nil || err != nil || events != "" {
		t.Errorf("second pass: %q, %v, netlink events:\n%s", changes, err, events)
	}
}
