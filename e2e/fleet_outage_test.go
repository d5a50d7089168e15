package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/fleet/agent"
)

// fleetTTL is the liveness lease of the outage test's hosts (the default is 10 s).
const fleetTTL = "3s"

// TestFleetDeadHostOutageAndMassLoss: a host that dies leaves every plan after its
// lease's TTL and the grace; while etcd is down the last view stays in force, and
// a host restarted during the outage rebuilds the same mesh from its saved view;
// when most hosts vanish at once their removal is held and said so.
func TestFleetDeadHostOutageAndMassLoss(t *testing.T) {
	f := newFleetLab(t, fleetNetwork)
	names := []string{"docker1", "docker2", "docker3", "docker4"}
	loops := map[string]*loopProc{}
	for _, h := range names {
		loops[h] = launchLoop(t, f.cluster, h, loopOpts{fleet: f, args: []string{"--lease-ttl", fleetTTL}, wait: true})
	}
	f.waitMembers(t, names, names)
	three := names[:3]
	cts := f.containers(t, three)

	// docker4 dies (SIGKILL: no goodbye): it leaves every plan, its tunnels go.
	died := time.Now()
	if err := loops["docker4"].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-loops["docker4"].done
	f.waitMembers(t, three, three)
	t.Logf("docker4 killed: out of every view and its tunnels removed after %v (lease TTL %s + grace 3s)", time.Since(died).Round(time.Millisecond), fleetTTL)
	for _, h := range three {
		if f.hasTunnelTo(h, "docker4") {
			t.Errorf("%s still has a tunnel to the dead docker4", h)
		}
	}
	f.pingAll(t, cts)

	// etcd goes down: nothing changes, the loops stay healthy.
	index1 := f.status(t).index("docker1")
	f.stopEtcd(t)
	time.Sleep(5 * time.Second) // longer than the lease TTL
	for _, h := range three {
		if v := f.viewHosts(h); v == nil || len(v.Hosts) != 3 {
			t.Errorf("%s: view during the outage: %v, want the 3 hosts", h, v)
		}
		if code, body := loops[h].health(t); code != http.StatusOK {
			t.Errorf("%s: /healthz %d %q during the etcd outage", h, code, body)
		}
	}
	f.pingAll(t, cts)
	// docker1 restarts during the outage (as after a reboot): it applies its saved view.
	loops["docker1"].stop(t)
	loops["docker1"] = launchLoop(t, f.cluster, "docker1", loopOpts{fleet: f, args: []string{"--lease-ttl", fleetTTL}, wait: true})
	if n := len(loops["docker1"].logs(t, 0, "fleet: starting from the saved view while joining")); n != 1 {
		t.Errorf("docker1 restarted during the outage without saying it uses its saved view")
	}
	f.pingAll(t, cts)

	// etcd is back: docker1 joins again with its index, the mesh is unchanged.
	f.startEtcd(t)
	took, ok := poll(30*time.Second, func() bool { return len(loops["docker1"].logs(t, 0, "fleet: joined")) == 1 })
	if !ok {
		t.Fatal("docker1 did not join within 30s of etcd's return")
	}
	t.Logf("docker1 joined %v after etcd was started again (etcd itself needs about 1-2 s)", took.Round(time.Millisecond))
	if st := f.status(t); st.index("docker1") != index1 {
		t.Errorf("docker1 has index %d after the outage, had %d", st.index("docker1"), index1)
	}
	// docker1 restarts with etcd up: it joins before it puts its saved view in
	// force, or waits agent.JoinFirst for the join, so that its first pass does
	// not slow the join (a loaded machine may start it later than that).
	loops["docker1"].stop(t)
	launched := time.Now()
	loops["docker1"] = launchLoop(t, f.cluster, "docker1", loopOpts{fleet: f, args: []string{"--lease-ttl", fleetTTL}, wait: true})
	joined := loops["docker1"].logs(t, 0, "fleet: joined")
	saved := loops["docker1"].logs(t, 0, "fleet: starting from the saved view while joining")
	switch {
	case len(joined) != 1 || len(saved) != 1:
		t.Errorf("docker1 restarted with etcd up: %d joins, %d saved views put in force; want one of each", len(joined), len(saved))
	case saved[0].Time.Before(joined[0].Time) && saved[0].Time.Sub(launched) < agent.JoinFirst:
		t.Errorf("docker1 restarted with etcd up put its saved view in force %v after its launch, before its join (%v): want the join first, or JoinFirst (%v) waited",
			saved[0].Time.Sub(launched).Round(time.Millisecond), joined[0].Time.Sub(launched).Round(time.Millisecond), agent.JoinFirst)
	}
	time.Sleep(7 * time.Second) // old leases expire; a host back within the grace changes nothing
	f.waitMembers(t, three, three)
	f.pingAll(t, cts)

	f.checkMassLoss(t, loops)
}

// checkMassLoss: docker2 and docker3 vanish at once; docker1 holds their removal
// and says so.
func (f *fleetLab) checkMassLoss(t *testing.T, loops map[string]*loopProc) {
	t.Helper()
	for _, h := range []string{"docker2", "docker3"} {
		_ = loops[h].cmd.Process.Kill()
		<-loops[h].done
	}
	if _, ok := poll(30*time.Second, func() bool { return loops["docker1"].metric(t, "ovsmesh_fleet_held_hosts") == 2 }); !ok {
		t.Fatalf("ovsmesh_fleet_held_hosts on docker1 = %v, want 2", loops["docker1"].metric(t, "ovsmesh_fleet_held_hosts"))
	}
	if v := f.viewHosts("docker1"); v == nil || len(v.Hosts) != 3 {
		t.Errorf("docker1's view with the removal held: %v, want 3 hosts", v)
	}
	if loops["docker1"].metric(t, "ovsmesh_fleet_held_removals_total") < 1 {
		t.Error("ovsmesh_fleet_held_removals_total not counted")
	}
	var held bool
	for _, l := range loops["docker1"].lines() {
		held = held || strings.Contains(l, "holding their removal")
	}
	if !held {
		t.Error("docker1 did not log that it holds the removals")
	}
}
