package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// TestFleetMeshWithoutATopologyFile: three hosts join a fleet seeded with network
// settings only, claim indexes 1 to 3 and every pair of containers pings; a
// fourth joins and every member has it; a restarted host keeps its index; a bad
// record under the prefix is skipped, counted and changes nothing.
func TestFleetMeshWithoutATopologyFile(t *testing.T) {
	f := newFleetLab(t, fleetNetwork)
	first := []string{"docker1", "docker2", "docker3"}
	loops := map[string]*loopProc{}
	for _, h := range first { // all at once: their claims race for the indexes
		loops[h] = launchLoop(t, f.cluster, h, loopOpts{fleet: f})
	}
	for _, h := range first {
		loops[h].waitHealthy(t, 30*time.Second)
	}
	st := f.status(t)
	var idx []int
	for _, h := range first {
		idx = append(idx, st.index(h))
	}
	slices.Sort(idx)
	if !slices.Equal(idx, []int{1, 2, 3}) {
		t.Fatalf("indexes %v, want 1, 2, 3 each once (status %+v)", idx, st)
	}
	f.waitMembers(t, first, first)
	cts := f.containers(t, first)
	f.pingAll(t, cts)

	// A fourth host joins: the time until every member has its tunnel.
	start := time.Now()
	loops["docker4"] = launchLoop(t, f.cluster, "docker4", loopOpts{fleet: f, wait: true})
	all := append(slices.Clone(first), "docker4")
	f.waitMembers(t, all, all)
	t.Logf("docker4 joined: in every member's view, with its tunnels, %v after its start", time.Since(start).Round(time.Millisecond))
	if got := f.status(t).index("docker4"); got != 4 {
		t.Errorf("docker4 got index %d, want the smallest free one, 4", got)
	}
	cts = append(cts, f.containers(t, []string{"docker4"})...)
	f.pingAll(t, cts)

	// A restarted host keeps its index and the mesh stays whole.
	before := f.status(t).index("docker2")
	loops["docker2"].stop(t)
	loops["docker2"] = launchLoop(t, f.cluster, "docker2", loopOpts{fleet: f, wait: true})
	if after := f.status(t).index("docker2"); after != before {
		t.Errorf("docker2 restarted with index %d, had %d", after, before)
	}
	f.pingAll(t, cts)

	// Bad JSON under the prefix: skipped, counted on every member, the mesh unchanged.
	bad := "/ovsmesh/" + fleetCluster + "/hosts/intruder"
	f.etcdPut(t, bad, `{"name": "intruder", "address": "198.18.0.9", "index": `)
	for _, h := range all {
		if _, ok := poll(10*time.Second, func() bool { return loops[h].metric(t, "ovsmesh_fleet_bad_records_total") >= 1 }); !ok {
			t.Errorf("%s: ovsmesh_fleet_bad_records_total stayed 0 after a bad record", h)
		}
	}
	st = f.status(t)
	if len(st.Stale) != 1 || st.Stale[0].Key != bad {
		t.Errorf("fleet status stale entries %+v, want %s", st.Stale, bad)
	}
	for _, h := range all {
		if v := f.viewHosts(h); v == nil || len(v.Hosts) != 4 {
			t.Errorf("%s: view after the bad record: %v, want the 4 hosts", h, v)
		}
	}
	f.pingAll(t, cts)
	if rev := loops["docker1"].metric(t, "ovsmesh_fleet_revision"); rev < float64(st.Revision) {
		t.Errorf("ovsmesh_fleet_revision %v, want at least the status' %d", rev, st.Revision)
	}
}

// waitMembers waits until every host of hosts has exactly members in its saved
// view, a tunnel to each other member and none to any other lab host; it returns
// how long that took.
func (f *fleetLab) waitMembers(t *testing.T, hosts, members []string) time.Duration {
	t.Helper()
	took, ok := poll(30*time.Second, func() bool {
		for _, h := range hosts {
			v := f.viewHosts(h)
			if v == nil || len(v.Hosts) != len(members) {
				return false
			}
			for _, m := range members {
				if _, err := v.Host(m); err != nil || (m != h && !f.hasTunnelTo(h, m)) {
					return false
				}
			}
			for _, other := range f.lab.Hosts() {
				if !slices.Contains(members, other.Name) && f.hasTunnelTo(h, other.Name) {
					return false
				}
			}
		}
		return true
	})
	if !ok {
		for _, h := range hosts {
			t.Logf("%s's view: %v", h, f.viewHosts(h))
		}
		t.Fatalf("members %v not in every view of %v with their tunnels within 30s", members, hosts)
	}
	return took
}

// containers adds container 2 on each host, addressed from its fleet slice.
func (f *fleetLab) containers(t *testing.T, hosts []string) []*lab.Container {
	t.Helper()
	var out []*lab.Container
	for _, h := range hosts {
		f.topo = f.viewHosts(h) // the fleet's view, not the lab's file, gives the slices
		if f.topo == nil {
			t.Fatalf("%s has no saved view", h)
		}
		out = append(out, f.container(h, 2))
	}
	return out
}

// pingAll pings between every pair of containers.
func (f *fleetLab) pingAll(t *testing.T, cts []*lab.Container) {
	t.Helper()
	for _, a := range cts {
		for _, b := range cts {
			if a != b {
				ping(t, a, b.Addr.Addr(), 56, false)
			}
		}
	}
}
