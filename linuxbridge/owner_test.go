package linuxbridge

import (
	"context"
	"errors"
	"testing"
)

// TestCheckOwner: which existing bridges ovsmesh may change without --take-over.
func TestCheckOwner(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, n *testNS, br string)
		ok    bool
	}{
		{"absent", func(*testing.T, *testNS, string) {}, true},
		{"docker0 without ports", nil, true},
		{"docker0 with a container's veth", func(t *testing.T, n *testNS, br string) {
			n.ip(t, "link", "add", "vethc1", "type", "veth", "peer", "name", "vethc1p")
			n.ip(t, "link", "set", "vethc1", "master", br)
		}, true},
		{"docker0 with a VM's tap", func(t *testing.T, n *testNS, br string) {
			n.ip(t, "tuntap", "add", "dev", "vnet0", "mode", "tap")
			n.ip(t, "link", "set", "vnet0", "master", br)
		}, false},
		{"virbr0 without ports", nil, false},
		{"virbr0 holding br0", func(t *testing.T, n *testNS, br string) {
			n.addPort(t, "br0")
			n.ip(t, "link", "set", "br0", "master", br)
		}, true},
		{"virbr0 marked by this host", func(t *testing.T, n *testNS, br string) {
			n.ip(t, "link", "set", "dev", br, "alias", "ovsmesh-owner=docker1")
		}, true},
		{"virbr0 marked by another host", func(t *testing.T, n *testNS, br string) {
			n.ip(t, "link", "set", "dev", br, "alias", "ovsmesh-owner=docker2")
		}, false},
		{"virbr0 with another alias", func(t *testing.T, n *testNS, br string) {
			n.ip(t, "link", "set", "dev", br, "alias", "libvirt's")
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := newNS(t)
			w := want
			w.Name = "docker0"
			if len(c.name) > 6 && c.name[:6] == "virbr0" {
				w.Name = "virbr0"
			}
			if c.name != "absent" {
				n.ip(t, "link", "add", w.Name, "type", "bridge")
			}
			if c.setup != nil {
				c.setup(t, n, w.Name)
			}
			b := New(n.h, testLogger(t))
			err := b.CheckOwner(context.Background(), w, false)
			if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrNotOurs)) {
				t.Errorf("CheckOwner: %v, want ok %v", err, c.ok)
			}
			if err := b.CheckOwner(context.Background(), w, true); err != nil {
				t.Errorf("with --take-over: %v", err)
			}
		})
	}
}
