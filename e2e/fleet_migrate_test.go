package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/topology"
)

// TestFleetMigrationKeepsEverySlice: a mesh run from a topology file is seeded
// into a fleet with fleet init; hosts switch to fleet mode one at a time while
// the others stay in file mode, and nothing changes: same indexes, same slices,
// every pair pings; fleet export gives the file's hosts back.
func TestFleetMigrationKeepsEverySlice(t *testing.T) {
	f := newFleetLab(t, fleetHosts)
	f.mustApply()
	names := []string{"docker1", "docker2", "docker3", "docker4"}
	cts := f.containers2(t, names)
	f.pingAll(t, cts)

	// docker1 and docker2 move to fleet mode; docker3 and docker4 stay on the file.
	for _, h := range names[:2] {
		launchLoop(t, f.cluster, h, loopOpts{fleet: f, wait: true})
	}
	f.waitMembers(t, names[:2], names)
	for _, h := range names[:2] {
		v := f.viewHosts(h)
		for _, want := range f.topo.Hosts {
			got, err := v.Host(want.Name)
			if err != nil || got.Index != want.Index || got.Address != want.Address {
				t.Errorf("%s's view: %s is %+v (%v), the file had %+v", h, want.Name, got, err, want)
			}
		}
	}
	f.pingAll(t, cts)
	st := f.status(t)
	for _, want := range f.topo.Hosts {
		if st.index(want.Name) != want.Index {
			t.Errorf("fleet status: %s has index %d, the file had %d", want.Name, st.index(want.Name), want.Index)
		}
	}

	f.checkSetNetwork(t, names[:2], st.Revision)

	// Back to file mode: the export lists every host with its index.
	out, err := f.ovsmesh("docker1", "fleet", "export")
	if err != nil {
		t.Fatalf("fleet export: %v\n%s", err, out)
	}
	back, err := topology.Compile("export", []byte(out))
	if err != nil {
		t.Fatalf("fleet export is not a valid topology: %v\n%s", err, out)
	}
	for _, want := range f.topo.Hosts {
		if got, err := back.Host(want.Name); err != nil || got.Index != want.Index || got.Address != want.Address {
			t.Errorf("export: %s is %+v (%v), want %+v", want.Name, got, err, want)
		}
	}
	if !strings.Contains(out, "slice_prefix: 20") {
		t.Errorf("export lost the network settings:\n%s", out)
	}
}

// containers2 adds container 2 on each host, from the lab's topology file.
func (f *fleetLab) containers2(t *testing.T, hosts []string) []*lab.Container {
	t.Helper()
	var out []*lab.Container
	for _, h := range hosts {
		out = append(out, f.container(h, 2))
	}
	return out
}

// checkSetNetwork: a set-network that moves slices is refused and leaves etcd at
// rev; one that moves none (mtu 1400) reaches the bridge of every host of hosts.
func (f *fleetLab) checkSetNetwork(t *testing.T, hosts []string, rev int64) {
	t.Helper()
	// A change that moves slices is refused and changes nothing; one that moves
	// none reaches every fleet host.
	moving := strings.Replace(fleetNetwork, "slice_prefix: 20", "slice_prefix: 22", 1)
	writeNet := func(name, content string) string {
		path := f.dir + "/" + name
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	out, err := f.ovsmesh("docker1", "fleet", "set-network", writeNet("moving.yaml", moving))
	if err == nil || !strings.Contains(out, "moves the slice of docker1") || !strings.Contains(out, "--force") {
		t.Errorf("set-network moving slices: %v\n%s", err, out)
	}
	if now := f.status(t).Revision; now != rev {
		t.Errorf("refused set-network changed etcd: revision %d → %d", rev, now)
	}
	smaller := fleetNetwork + "  mtu: 1400\n"
	if out, err := f.ovsmesh("docker1", "fleet", "set-network", writeNet("mtu.yaml", smaller)); err != nil {
		t.Fatalf("set-network mtu 1400: %v\n%s", err, out)
	}
	for _, h := range hosts {
		if _, ok := poll(10*time.Second, func() bool { v := f.viewHosts(h); return v != nil && v.Network.MTU == 1400 }); !ok {
			t.Errorf("%s's view did not follow set-network (mtu 1400) within 10s", h)
		}
		if _, ok := poll(10*time.Second, func() bool { return f.vsctl(h, "get", "Interface", "br0", "mtu_request") == "1400" }); !ok {
			t.Errorf("%s: br0 mtu_request is %s, want 1400", h, f.vsctl(h, "get", "Interface", "br0", "mtu_request"))
		}
	}
}
