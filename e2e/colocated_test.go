package e2e

import (
	"testing"
)

// TestColocatedSpoof pins what docs/flow-table.md and docs/safety.md say the
// MAC check does not cover (issue 19, item 8): containers on one host share the
// OVS bridge's one local port, so a container can send through the mesh with a
// co-located container's MAC and address; a container of another host cannot
// (its host drops the frame at the source). It passes on main too: it keeps the
// documents' statement true, and fails once per-container checks exist.
func TestColocatedSpoof(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n", 2))
	c.mustApply()
	a, b, v := c.container("docker1", 2), c.container("docker1", 3), c.container("docker2", 2)
	other := c.container("docker2", 3)
	ping(t, a, v.Addr.Addr(), 0, false)
	ping(t, b, v.Addr.Addr(), 0, false)
	ping(t, other, a.Addr.Addr(), 0, false)
	frame := ether(macOf(t, v), macOf(t, a), etherIPv4, ipv4UDP(a.Addr.Addr(), v.Addr.Addr()))
	seen := countSeen(t, "udp port 12345", func() { sendFrames(t, b, 3, frame) }, v)
	if seen[v.Name] != 3 {
		t.Errorf("a co-located container's MAC and address: %d of 3 frames delivered, want 3 (the documented limit)", seen[v.Name])
	}
	w := c.container("docker1", 4)
	frame = ether(macOf(t, w), macOf(t, a), etherIPv4, ipv4UDP(a.Addr.Addr(), w.Addr.Addr()))
	seen = countSeen(t, "udp port 12345", func() { sendFrames(t, other, 3, frame) }, w)
	if seen[w.Name] != 0 {
		t.Errorf("another host's container's MAC and address: %d of 3 frames delivered, want 0", seen[w.Name])
	}
}
