package e2e

import (
	"strings"
	"testing"
)

// TestNetworksRollout: adding networks to the file rolls out host by host. While
// docker1 has the new file (its tunnels carry the key in the flow) and docker2
// the old one (no key), docker0's containers on the two hosts keep talking, in
// a GRE and a VXLAN mesh.
func TestNetworksRollout(t *testing.T) {
	for _, encap := range []string{"gre", "vxlan"} {
		t.Run(encap, func(t *testing.T) {
			old := labTopology("  mode: mesh\n  encap: "+encap+"\n  mtu: 1400\n", 2)
			c := newCluster(t, old)
			c.mustApply()
			c1, c2 := c.container("docker1", 2), c.container("docker2", 2)
			ping(t, c1, c2.Addr.Addr(), 0, false)
			c.write(old + "networks:\n  - {name: app, subnet: 10.20.0.0/16}\n")
			out, err := c.apply("docker1")
			if err != nil || !strings.Contains(out, "options:key (unset) -> flow") {
				t.Fatalf("apply of the new file on docker1: %v\n%s", err, out)
			}
			ping(t, c1, c2.Addr.Addr(), 0, false)
			ping(t, c2, c1.Addr.Addr(), 0, false)
			t.Logf("check: %s: docker1 with networks (key=flow), docker2 without: docker0's containers answer both ways: %v", encap, !t.Failed())
			c.mustApply("docker2")
			ping(t, c1, c2.Addr.Addr(), 0, false)
		})
	}
}
