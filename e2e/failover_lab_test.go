package e2e

import (
	"fmt"
	"testing"
	"time"
)

// treeConverged polls `ovs-appctl CMD br0` on every host every second, up to
// limit, until twice in a row every tunnel port is in state fwd or block and
// exactly one port of the triangle is in block; it returns the blocked port as
// "host:row" with the root bridge. It fails the benchmark if that never happens.
func (l *relayLab) treeConverged(cmd, fwd, block string, limit time.Duration) (blocked, root string) {
	l.t.Helper()
	deadline := time.Now().Add(limit)
	stable := 0
	for {
		why := ""
		blocked, root = "", ""
		n := 0
		for _, h := range l.topo.Hosts {
			s := stpParse(hostRun(l.t, l.cluster, h.Name, "ovs-appctl", cmd, "br0"))
			if s.Root {
				root = h.Name
			}
			if len(s.Ports) != len(l.plan(h.Name).OVS.Tunnels) && why == "" {
				why = fmt.Sprintf("%s shows %d ports", h.Name, len(s.Ports))
			}
			for _, p := range s.Ports {
				switch {
				case p.State == block:
					n++
					blocked = h.Name + ":" + p.Role
				case p.State != fwd && why == "":
					why = fmt.Sprintf("%s has a port %s %s", h.Name, p.Role, p.State)
				}
			}
		}
		if why == "" && n != 1 {
			why = fmt.Sprintf("%d ports %s, want 1", n, block)
		}
		if why != "" {
			stable = 0
		} else if stable++; stable == 2 {
			return blocked, root
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("spanning tree (%s) not converged after %v: %s", cmd, limit, why)
		}
		time.Sleep(time.Second)
	}
}

// waitReply waits until a reply comes later than t, up to limit from now, and
// reports whether one did.
func waitReply(p *pinger, t time.Time, limit time.Duration) bool {
	_, ok := poll(limit, func() bool { return p.replies().after(t) }, 20*time.Millisecond)
	return ok
}

// TestFailoverGaps checks the benchmark's two pure measures on a made-up log:
// replies every 10 ms, none from 100 ms to 400 ms (the outage), then none from
// 600 ms to 650 ms (around a restore at 550 ms).
func TestFailoverGaps(t *testing.T) {
	t0 := time.Unix(1764769384, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var l pingLog
	for ms := 0; ms <= 1000; ms += 10 {
		if (ms > 100 && ms < 400) || (ms > 600 && ms < 650) {
			continue
		}
		l.at = append(l.at, at(ms))
	}
	if got := l.gap(at(105), at(550)); got != 300*time.Millisecond {
		t.Errorf("outage: %v, want 300ms", got)
	}
	if end, ok := l.outageEnd(at(105), at(550)); !ok || !end.Equal(at(400)) {
		t.Errorf("outage ends at %v (%v), want 400ms", end.Sub(t0), ok)
	}
	if got := l.gapSince(at(550), at(1000)); got != 50*time.Millisecond {
		t.Errorf("gap around the restore: %v, want 50ms", got)
	}
	// No reply after 100 ms: the outage never ends, and the restore's gap
	// counts from the restore, not from the last reply before the cut.
	l.at = l.at[:11]
	if _, ok := l.outageEnd(at(105), at(550)); ok {
		t.Error("outage ended, want no recovery")
	}
	l.at = append(l.at, at(580), at(590))
	if got := l.gapSince(at(550), at(590)); got != 30*time.Millisecond {
		t.Errorf("gap around the restore after no recovery: %v, want 30ms", got)
	}
}
