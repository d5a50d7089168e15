package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestFleetInitOfALargeFile: fleet init of a topology file of 130 hosts (more
// than one etcd transaction holds) registers every host with its index; a lab
// host then joins under its name, keeps its index and builds its 129 tunnels.
func TestFleetInitOfALargeFile(t *testing.T) {
	var b strings.Builder
	b.WriteString("network:\n  encap: gre\n  mode: mesh\n  datapath: netdev\n  subnet: 10.0.0.0/8\n  slice_prefix: 20\nhosts:\n")
	for i := 1; i <= 4; i++ {
		fmt.Fprintf(&b, "  - {name: docker%d, address: 198.18.0.%d, index: %d}\n", i, i, i)
	}
	for i := 5; i <= 130; i++ {
		fmt.Fprintf(&b, "  - {name: far%d, address: 198.19.%d.%d, index: %d}\n", i, i/200, 1+i%200, i)
	}
	f := newFleetLab(t, b.String())
	st := f.status(t)
	if len(st.Members) != 130 || st.index("docker3") != 3 || st.index("far130") != 130 {
		t.Fatalf("fleet status after init of 130 hosts: %d members, docker3 at %d, far130 at %d", len(st.Members), st.index("docker3"), st.index("far130"))
	}
	launchLoop(t, f.cluster, "docker3", loopOpts{fleet: f, wait: true})
	if got := f.status(t).index("docker3"); got != 3 {
		t.Errorf("docker3 joined with index %d, the file gave 3", got)
	}
	if v := f.viewHosts("docker3"); v == nil || len(v.Hosts) != 130 {
		t.Fatalf("docker3's view: %v, want the 130 hosts", v)
	}
	for _, peer := range []string{"docker1", "far5", "far130"} {
		if !f.hasTunnelTo("docker3", peer) {
			t.Errorf("docker3 has no tunnel to %s", peer)
		}
	}
}
