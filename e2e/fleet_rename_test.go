package e2e

import (
	"testing"
	"time"
)

// TestFleetRejoinUnderAnotherName: docker2 leaves the fleet (its service stops,
// `fleet remove docker2` frees index 2) and its machine joins again as web2, at
// the same address: web2 gets index 2 again, so each peer's plan swaps
// gre-docker2 for gre-web2, same remote_ip and ofport_request (issue 20). The
// peers' loops never fail a pass, their tunnel to web2 works and docker1's
// container reaches web2's within two intervals of web2's start.
func TestFleetRejoinUnderAnotherName(t *testing.T) {
	f := newFleetLab(t, fleetNetwork)
	three := []string{"docker1", "docker2", "docker3"}
	loops := map[string]*loopProc{}
	for _, h := range three {
		loops[h] = launchLoop(t, f.cluster, h, loopOpts{fleet: f, wait: true})
	}
	f.waitMembers(t, three, three)
	cts := f.containers(t, three)
	f.pingAll(t, cts)
	marks := map[string]int{"docker1": loops["docker1"].mark(), "docker3": loops["docker3"].mark()}

	loops["docker2"].stop(t)
	if out, err := f.ovsmesh("docker1", "fleet", "remove", "docker2"); err != nil {
		t.Fatalf("fleet remove docker2: %v\n%s", err, out)
	}
	start := time.Now()
	web2 := launchLoop(t, f.cluster, "docker2", loopOpts{fleet: f, as: "web2", args: []string{"--take-over"}})
	web2.waitHealthy(t, 30*time.Second)
	if got := f.status(t).index("web2"); got != 2 {
		t.Errorf("web2 got index %d, want 2 (freed by docker2)", got)
	}
	const interval = 10 * time.Second // launchLoop's in fleet mode
	for _, h := range []string{"docker1", "docker3"} {
		if _, ok := poll(2*interval, func() bool { ok, _ := tunnelHealthy(f.cluster, h, "gre-web2"); return ok }); !ok {
			_, got := tunnelHealthy(f.cluster, h, "gre-web2")
			t.Errorf("%s: gre-web2: ofport ofport_request error %q, want its requested ofport and no error", h, got)
		}
	}
	took, err := pingWithin(cts[0], addr(cts[1].Addr), 2*interval-time.Since(start))
	t.Logf("docker1's container reaches web2's %v after web2's start (%v of pinging)", time.Since(start).Round(time.Millisecond), took.Round(time.Millisecond))
	if err != nil {
		t.Errorf("docker1's container does not reach web2's within two intervals (%v) of web2's start: %v", 2*interval, err)
	}
	ping(t, cts[2], addr(cts[1].Addr), 56, false)
	for h, mark := range marks {
		for _, e := range loops[h].logs(t, mark, "reconcile step failed") {
			t.Errorf("loop on %s: a pass failed while docker2 left and web2 joined: %s: %s", h, e.Step, e.Err)
		}
		for _, e := range loops[h].logs(t, mark, "change") {
			if e.Step == "ovsdb" {
				t.Logf("loop on %s: %s %s", h, e.Time.Format("15:04:05.000"), e.Change)
			}
		}
	}
}
