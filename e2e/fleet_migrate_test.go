package e2e

import (
	"strings"
	"testing"

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
		f.fleetStart(t, h)
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
