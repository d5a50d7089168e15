package e2e

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// fleetOutage is how long etcd stays down in TestFleetOutageKeepsPinging: much
// longer than the lease TTL and the grace.
const fleetOutage = 30 * time.Second

// TestFleetOutageKeepsPinging: etcd stops for 30 s while the containers of
// three hosts ping each other every 0.1 s: no ping is lost, no view, flow or
// tunnel changes, every loop stays healthy; when etcd is back every host follows
// the fleet again and a fourth host reaches every view.
func TestFleetOutageKeepsPinging(t *testing.T) {
	f := newFleetLab(t, fleetNetwork)
	three := []string{"docker1", "docker2", "docker3"}
	loops := map[string]*loopProc{}
	for _, h := range three {
		loops[h] = launchLoop(t, f.cluster, h, loopOpts{fleet: f, args: []string{"--lease-ttl", fleetTTL}, wait: true})
	}
	f.waitMembers(t, three, three)
	cts := f.containers(t, three)
	f.pingAll(t, cts)
	flows, regrants := map[string]string{}, map[string]float64{}
	for _, h := range three {
		flows[h] = strings.Join(slices.Sorted(maps.Keys(flowTable(t, f.cluster, h))), "\n")
		regrants[h] = loops[h].metric(t, "ovsmesh_fleet_lease_regrants_total")
	}
	// Pings for 1 s before the outage, during it and 15 s after etcd's start.
	count := int((time.Second + fleetOutage + 15*time.Second) / (100 * time.Millisecond))
	var pings []*pinger
	for i, ct := range cts {
		pings = append(pings, startPinger(t, ct, cts[(i+1)%len(cts)].Addr.Addr(), 100*time.Millisecond, count))
	}
	time.Sleep(time.Second)

	f.stopEtcd(t)
	time.Sleep(fleetOutage)
	f.checkUnchanged(t, loops, three, flows)

	back := time.Now()
	f.startEtcd(t)
	f.waitFollowing(t, loops, three, regrants)
	for _, p := range pings {
		sent, recv := p.wait(t)
		t.Logf("ping %s -> %s every 0.1 s through the %v outage and etcd's return: %d sent, %d lost", p.from, p.to, fleetOutage, sent, sent-recv)
		if sent != count || recv != sent {
			t.Errorf("ping %s -> %s: %d sent, %d received: want all %d answered", p.from, p.to, sent, recv, count)
		}
	}

	start := time.Now()
	loops["docker4"] = launchLoop(t, f.cluster, "docker4", loopOpts{fleet: f, args: []string{"--lease-ttl", fleetTTL}, wait: true})
	all := append(slices.Clone(three), "docker4")
	f.waitMembers(t, all, all)
	t.Logf("docker4 started %v after etcd's return: in every view with its tunnels %v after its start",
		start.Sub(back).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	f.pingAll(t, append(cts, f.containers(t, []string{"docker4"})...))
}

// checkUnchanged checks, after the outage, that every host has the 3 hosts in
// its view, the flow table it had before and a healthy loop.
func (f *fleetLab) checkUnchanged(t *testing.T, loops map[string]*loopProc, hosts []string, flows map[string]string) {
	t.Helper()
	for _, h := range hosts {
		if v := f.viewHosts(h); v == nil || len(v.Hosts) != 3 {
			t.Errorf("%s: view after %v without etcd: %v, want the 3 hosts", h, fleetOutage, v)
		}
		if got := strings.Join(slices.Sorted(maps.Keys(flowTable(t, f.cluster, h))), "\n"); got != flows[h] {
			t.Errorf("%s: the flow table changed during the etcd outage:\nbefore:\n%s\nafter:\n%s", h, flows[h], got)
		}
		if code, body := loops[h].health(t); code != http.StatusOK {
			t.Errorf("%s: /healthz %d %q during the etcd outage", h, code, body)
		}
	}
}

// waitFollowing waits until every host follows the fleet again after etcd's
// return: its lease expired during the outage, so each is granted a new one
// (regrants counts them before), and every host's view reaches etcd's revision.
func (f *fleetLab) waitFollowing(t *testing.T, loops map[string]*loopProc, hosts []string, regrants map[string]float64) {
	t.Helper()
	took, ok := poll(60*time.Second, func() bool {
		for _, h := range hosts {
			if loops[h].metric(t, "ovsmesh_fleet_lease_regrants_total") <= regrants[h] {
				return false
			}
		}
		rev := float64(f.status(t).Revision)
		for _, h := range hosts {
			if loops[h].metric(t, "ovsmesh_fleet_revision") != rev {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatal("the hosts did not follow the fleet again within 60s of etcd's start")
	}
	t.Logf("every host follows the fleet again %v after etcd was started (etcd itself needs 1-2 s)", took.Round(time.Millisecond))
}
