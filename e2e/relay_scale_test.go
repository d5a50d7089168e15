package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/internal/testenv"
	"github.com/ovsmesh/ovsmesh/topology"
)

// TestRelayTableAtLimit: one host of a 1000-host mesh with bfd: true (the
// largest validation takes) gets its whole table installed: 999 tunnels, the
// flood flow with two actions per peer within OpenFlow's limits, no group. The
// peers do not exist, so no BFD session comes up and every tunnel sends
// directly (topology.PathPolicy): the steady table has one more flow per peer,
// a small one in table 10.
func TestRelayTableAtLimit(t *testing.T) {
	t.Parallel()
	testenv.SkipShort(t, "root and the lab (an end-to-end test)")
	var b strings.Builder
	b.WriteString("network:\n  datapath: netdev\n  encap: gre\n  bfd: true\n  subnet: 10.128.0.0/9\n  slice_prefix: 20\n")
	b.WriteString("hosts:\n  - {name: docker1, address: 198.18.0.1, index: 1}\n")
	for i := 2; i <= topology.MaxRelayHosts; i++ {
		fmt.Fprintf(&b, "  - {name: h%04d, address: 198.19.%d.%d, index: %d}\n", i, i>>8, i&255, i)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	topo, err := topology.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	steady, err := topo.Desired("docker1")
	if err != nil {
		t.Fatal(err)
	}
	want, err := topo.DesiredWith("docker1", topology.PathPolicy{Observed: true}) // no session up
	if err != nil {
		t.Fatal(err)
	}
	l := lab.NewT(t, lab.HostSpec{Name: "docker1", Underlay: netip.MustParsePrefix("198.18.0.1/24")})
	h := l.Host("docker1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := h.Command(ctx, ovsmeshBin, "apply", path, "--host", "docker1", "--db", h.DB(),
		"--interfaces", filepath.Join(dir, "interfaces"), "--daemon-json", filepath.Join(dir, "daemon.json")).CombinedOutput()
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, tail(string(out), 20))
	}
	took := time.Since(start)
	count, err := h.Run(ctx, "ovs-ofctl", "-O", "OpenFlow14", "dump-aggregate", "br0", fmt.Sprintf("cookie=%#x/-1", topology.FlowCookie))
	if err != nil {
		t.Fatal(err)
	}
	if wantCount := fmt.Sprintf("flow_count=%d", len(want.Flows)); !strings.Contains(count, wantCount) {
		t.Errorf("br0: %s, want %s", strings.TrimSpace(count), wantCount)
	}
	groups, err := h.Run(ctx, "ovs-ofctl", "-O", "OpenFlow14", "dump-groups", "br0")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(groups, "group_id="); n != 0 {
		t.Errorf("br0 has %d groups, want none", n)
	}
	t.Logf("1000-host mesh with bfd: %d tunnels, %d flows installed before BFD is up, %d once every session is (%.1f per peer), 0 groups, first apply %v",
		len(want.OVS.Tunnels), len(want.Flows), len(steady.Flows), float64(len(steady.Flows))/float64(len(steady.OVS.Tunnels)), took.Round(time.Millisecond))
}
