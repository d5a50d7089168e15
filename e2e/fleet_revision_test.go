package e2e

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/fleet"
)

// TestFleetRevisionOnlyChangeMakesNoPass: keys that move etcd's revision without
// changing the view (here liveness keys of hosts that have no record, as a lease
// put does) rewrite the saved view's revision line and the revision metric, and
// make no reconcile pass; a change of the view still makes one.
func TestFleetRevisionOnlyChangeMakesNoPass(t *testing.T) {
	f := newFleetLab(t, fleetNetwork)
	two := []string{"docker1", "docker2"}
	loops := map[string]*loopProc{}
	for _, h := range two {
		// A long interval: no periodic pass falls in the test's window.
		loops[h] = launchLoop(t, f.cluster, h, loopOpts{fleet: f, args: []string{"--interval", "10m"}, wait: true})
	}
	f.waitMembers(t, two, two)
	time.Sleep(2 * time.Second) // the passes that the joins caused are over
	passes, marks := map[string]float64{}, map[string]int{}
	for _, h := range two {
		passes[h], marks[h] = loops[h].metric(t, "ovsmesh_passes_total"), loops[h].mark()
	}

	for i := range 5 {
		f.etcdPut(t, fmt.Sprintf("/ovsmesh/%s/hosts/ghost%d/alive", fleetCluster, i), `{"machine_id":"x","since":"2026-01-01T00:00:00Z"}`)
	}
	rev := f.status(t).Revision
	for _, h := range two {
		if _, ok := poll(20*time.Second, func() bool {
			return loops[h].metric(t, "ovsmesh_fleet_revision") == float64(rev) && f.viewRevision(h) == rev
		}); !ok {
			t.Fatalf("%s: revision metric %v, saved view at %d; want both at etcd's %d", h,
				loops[h].metric(t, "ovsmesh_fleet_revision"), f.viewRevision(h), rev)
		}
	}
	time.Sleep(2 * time.Second) // ten polls of the applied file, and the loop's debounce
	for _, h := range two {
		if got := loops[h].metric(t, "ovsmesh_passes_total"); got != passes[h] {
			t.Errorf("%s: %v reconcile passes after 5 revision-only changes, want none", h, got-passes[h])
		}
		if n := len(loops[h].logs(t, marks[h], "topology file changed")); n != 0 {
			t.Errorf("%s: the loop saw its topology file change %d times, want 0", h, n)
		}
	}

	// A change of the view makes a pass on every host.
	launchLoop(t, f.cluster, "docker3", loopOpts{fleet: f, wait: true})
	three := append(two, "docker3")
	f.waitMembers(t, three, three)
	for _, h := range two {
		if got := loops[h].metric(t, "ovsmesh_passes_total"); got <= passes[h] {
			t.Errorf("%s: no reconcile pass after docker3 joined", h)
		}
	}
}

// viewRevision is the etcd revision in the header line of host's saved view (0
// if none).
func (f *fleetLab) viewRevision(host string) int64 {
	data, err := os.ReadFile(f.viewFile(host))
	if err != nil {
		return 0
	}
	_, rev, _, _ := fleet.ParseViewFile(data)
	return rev
}
