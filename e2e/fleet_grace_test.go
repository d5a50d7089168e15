package e2e

import (
	"testing"
	"time"
)

// TestFleetLivenessGrace: --liveness-grace sets how long a host whose lease
// expired stays in this host's plan. docker3 dies (SIGKILL); docker1, with a
// grace of 15 s, still plans it 10 s later (past the lease TTL and the default
// grace of 3 s), docker2, with none, has dropped it by then; docker1 drops it
// once its grace is over.
func TestFleetLivenessGrace(t *testing.T) {
	f := newFleetLab(t, fleetNetwork)
	three := []string{"docker1", "docker2", "docker3"}
	grace := map[string]string{"docker1": "15s", "docker2": "0s", "docker3": "3s"}
	loops := map[string]*loopProc{}
	for _, h := range three {
		loops[h] = launchLoop(t, f.cluster, h, loopOpts{fleet: f, args: []string{"--lease-ttl", fleetTTL, "--liveness-grace", grace[h]}, wait: true})
	}
	f.waitMembers(t, three, three)

	died := time.Now()
	if err := loops["docker3"].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-loops["docker3"].done
	inView := func(host, member string) bool {
		v := f.viewHosts(host)
		if v == nil {
			return false
		}
		_, err := v.Host(member)
		return err == nil
	}
	if _, ok := poll(20*time.Second, func() bool { return !inView("docker2", "docker3") }); !ok {
		t.Fatal("docker2 (no grace) still plans docker3 20s after its death")
	}
	t.Logf("docker2 (--liveness-grace 0s) dropped docker3 %v after its death (lease TTL %s)", time.Since(died).Round(time.Millisecond), fleetTTL)
	time.Sleep(time.Until(died.Add(10 * time.Second)))
	if !inView("docker1", "docker3") || !f.hasTunnelTo("docker1", "docker3") {
		t.Errorf("docker1 (--liveness-grace 15s) dropped docker3 within 10s of its death: want it kept for TTL %s + 15s", fleetTTL)
	}
	f.waitMembers(t, []string{"docker1"}, []string{"docker1", "docker2"})
	t.Logf("docker1 (--liveness-grace 15s) dropped docker3 %v after its death", time.Since(died).Round(time.Millisecond))
}
