package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRelayFlapHold: with the loop running, a path that goes down and up twice
// keeps its frames on the relay once it is back (--flap-hold), instead of
// switching at every flap; after the hold it is direct again. The metrics follow
// the path and count the failovers.
func TestRelayFlapHold(t *testing.T) {
	t.Parallel()
	r := newRelayLab(t, "  encap: gre\n  bfd: true\n")
	loops := map[string]*loopProc{}
	for _, h := range []string{"docker1", "docker2", "docker3"} {
		loops[h] = launchLoop(t, r.cluster, h, loopOpts{args: []string{"--flap-hold", "15s"}, wait: true})
	}
	choice := func() string { // docker1's table 9 toward docker2
		return r.ofctl("docker1", "dump-flows", "br0", "table=9,reg6=0x8002")
	}
	if !strings.Contains(choice(), "members:32770,32771)") {
		t.Fatalf("docker1 toward docker2 before any flap: %s, want the direct tunnel first", choice())
	}
	to2, to1 := r.tunnel("docker1", "docker2"), r.tunnel("docker2", "docker1")
	var restored time.Time
	for i := range 2 {
		restore := r.cut("docker1", "docker2")
		r.waitBFD("docker1", to2, "down")
		if i == 0 {
			metricEventually(t, loops["docker1"], `ovsmesh_tunnel_path{path="relayed",tunnel="gre-docker2"}`, 1)
			metricEventually(t, loops["docker1"], `ovsmesh_tunnel_relay{tunnel="gre-docker2",via="gre-docker3"}`, 1)
		}
		restore()
		restored = time.Now()
		r.waitBFD("docker1", to2, "up")
		r.waitBFD("docker2", to1, "up")
	}
	// Two outages within 15 s: the relay comes first while the path settles.
	if _, ok := poll(10*time.Second, func() bool { return strings.Contains(choice(), "members:32771,32770)") }); !ok {
		t.Fatalf("docker1 toward docker2 after two outages: %s, want the relay first", choice())
	}
	metricEventually(t, loops["docker1"], `ovsmesh_tunnel_path{path="relayed",tunnel="gre-docker2"}`, 1)
	if n := loops["docker1"].metric(t, `ovsmesh_tunnel_failovers_total{tunnel="gre-docker2"}`); n < 2 {
		t.Errorf("failovers counted on docker1 toward docker2: %v, want 2", n)
	}
	ping(t, r.cts["docker1"], r.cts["docker2"].Addr.Addr(), 0, false)
	// Stable for the hold: direct again.
	if _, ok := poll(40*time.Second, func() bool { return strings.Contains(choice(), "members:32770,32771)") }); !ok {
		t.Fatalf("docker1 toward docker2 40 s after the last flap: %s, want the direct tunnel first again", choice())
	}
	t.Logf("direct first again %v after the last restore (hold 15 s)", time.Since(restored).Round(time.Second))
	metricEventually(t, loops["docker1"], `ovsmesh_tunnel_path{path="direct",tunnel="gre-docker2"}`, 1)
	ping(t, r.cts["docker1"], r.cts["docker2"].Addr.Addr(), 0, false)
}

// metricEventually waits up to 10 s for a sample of the loop's /metrics to be v.
func metricEventually(t *testing.T, p *loopProc, name string, v float64) {
	t.Helper()
	var got float64
	if _, ok := poll(10*time.Second, func() bool { got = p.metrics(t)[name]; return got == v }); !ok {
		var samples []string
		for k, x := range p.metrics(t) {
			if strings.Contains(k, "tunnel_path") || strings.Contains(k, "tunnel_relay") || strings.Contains(k, "failovers") {
				samples = append(samples, fmt.Sprintf("%s %v", k, x))
			}
		}
		slices.Sort(samples)
		t.Errorf("loop on %s: %s = %v after 10 s, want %v; path metrics:\n%s", p.host, name, got, v, strings.Join(samples, "\n"))
	}
}
