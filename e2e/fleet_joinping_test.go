package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/topology"
)

// joinPinger pings, from a container on each member, the address a joining
// host's container 2 has (TestFleetScaleWithRealHosts).
type joinPinger struct {
	f       *fleetLab
	host    string       // the joiner
	addr    netip.Prefix // its container's address, with the subnet's prefix length
	gw      netip.Addr   // its docker0 address
	mtu     int
	from    map[string]*lab.Container // each member's container 2
	pingers map[string]*pinger
}

// joinPing is what one round of pings saw, from the joiner's start.
type joinPing struct {
	docker0   time.Time            // a fresh joiner: when its docker0 was first seen
	container time.Time            // a fresh joiner: when its container had been added
	first     map[string]time.Time // per member: the first reply after the start
	err       error
}

// newJoinPinger prepares, before host (the joiner, index idx in the fleet)
// first starts, a container on each member and the address of host's
// container 2, from the members' view (the joiner's slice).
func (f *fleetLab) newJoinPinger(t *testing.T, members []string, host string, idx int) *joinPinger {
	t.Helper()
	view := f.viewHosts(members[0])
	if view == nil {
		t.Fatalf("%s has no saved view", members[0])
	}
	f.topo = view
	plan := f.plan(members[0]) // the network's subnet and MTU
	addr := view.Slice(idx).Addr()
	for range 2 {
		addr = addr.Next()
	}
	j := &joinPinger{f: f, host: host, addr: netip.PrefixFrom(addr, plan.Docker.Subnet.Bits()), gw: view.Gateway(idx).Addr(),
		mtu: plan.Docker.MTU, from: map[string]*lab.Container{}}
	for _, m := range members {
		ct := f.container(m, 2)
		// Linux retries an unanswered ARP request once a second (retrans
		// 1000 ms): a ping that starts before the joiner exists would see
		// its first reply up to a second after the path forwards. Every
		// 20 ms, as the pings go, the first reply measures forwarding.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := ct.Run(ctx, "ip", "ntable", "change", "name", "arp_cache", "dev", "eth0", "retrans", "20")
		cancel()
		if err != nil {
			t.Fatalf("%s: ARP retry of %s: %v", m, ct.Name, err)
		}
		j.from[m] = ct
	}
	return j
}

// start starts a ping every 20 ms from each member's container to the joiner's.
func (j *joinPinger) start(t *testing.T) {
	t.Helper()
	j.pingers = map[string]*pinger{}
	for m, ct := range j.from {
		j.pingers[m] = startPinger(t, ct, j.addr.Addr(), 20*time.Millisecond, 0)
	}
}

// fresh, called once the joiner started for the first time, adds its container
// as soon as its docker0 exists (polled every 100 ms) and waits (2 minutes at
// most) for a reply at every member; it stops the pingers.
func (j *joinPinger) fresh(start time.Time) joinPing {
	var r joinPing
	h := j.f.host(j.host)
	if _, ok := poll(2*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := h.Run(ctx, "ip", "link", "show", "dev", lab.DockerBridge)
		return err == nil
	}, 100*time.Millisecond); !ok {
		r.err = fmt.Errorf("%s: no %s within 2 min", j.host, lab.DockerBridge)
		return r
	}
	r.docker0 = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := h.AddContainer(ctx, "c2"+j.host[len(j.host)-1:], j.addr, j.gw, j.mtu); err != nil {
		r.err = err
		return r
	}
	r.container = time.Now()
	r.first, r.err = j.replies(start)
	return r
}

// replies waits (2 minutes at most) for a reply after start at every member and
// returns when each came; it stops the pingers.
func (j *joinPinger) replies(start time.Time) (map[string]time.Time, error) {
	first := map[string]time.Time{}
	poll(2*time.Minute, func() bool {
		for m, p := range j.pingers {
			for _, at := range p.replies().at {
				if at.After(start) {
					first[m] = at
					break
				}
			}
		}
		return len(first) == len(j.pingers)
	}, 20*time.Millisecond)
	for m, p := range j.pingers {
		p.stop()
		if _, ok := first[m]; !ok {
			return first, fmt.Errorf("no reply from %s's container on %s within 2 min", j.host, m)
		}
	}
	return first, nil
}

// awaitGone waits until no member's flow table has a flow for the joiner's
// tunnel (its lease expired and the grace passed), 2 minutes at most.
func (f *fleetLab) awaitGone(t *testing.T, members []string, idx int) {
	t.Helper()
	match := fmt.Sprintf("in_port=%d", topology.TunnelOFPortBase+idx)
	for _, m := range members {
		if _, ok := poll(2*time.Minute, func() bool { out := f.flows(m, match); return out != "" && !strings.Contains(out, match+",") }, 100*time.Millisecond); !ok {
			t.Fatalf("%s still has flows for %s 2 min after the joiner stopped", m, match)
		}
	}
}

// fleetJoins measures docker4 joining the fleet of members (whose loops run):
// fresh, with no bridge yet, then restarted after it left (its lease expired),
// with its bridge and view kept. It returns the table's rows, and the fresh
// join's start and, per member, when its flow table had docker4's tunnel (for
// the comparison with file mode), and the first member's saved view with
// docker4. docker4's loop is stopped at the end.
func (f *fleetLab) fleetJoins(t *testing.T, members []string, loops []*loopProc, pins *pinning) (rows [][4]string, start time.Time, flows map[string]time.Time, view []byte) {
	t.Helper()
	launch := func() *loopProc {
		return pins.loop(t, launchLoop(t, f.cluster, "docker4", loopOpts{fleet: f, args: []string{"--interval", "5s", "--lease-ttl", "2s"}}))
	}
	j := f.newJoinPinger(t, members, "docker4", 4)
	j.start(t)
	var p *loopProc
	pinged := make(chan joinPing, 1)
	start, flows = f.joinToPlan(t, members, func() {
		p = launch()
		go func() { pinged <- j.fresh(time.Now()) }()
	})
	ping := <-pinged
	if ping.err != nil {
		t.Fatal(ping.err)
	}
	if h, err := f.viewHosts(members[0]).Host("docker4"); err != nil || h.Index != 4 {
		t.Fatalf("docker4 in %s's view: %+v, %v; want index 4 (the address pinged)", members[0], h, err)
	}
	rows = f.joinRows(t, "fresh", members, loops, p, start, flows, ping)

	j.start(t)
	p.waitHealthy(t, time.Minute) // a loop stopped before its first pass ends logs no stop
	p.stop(t)
	f.awaitGone(t, members, 4)
	restart, back := f.joinToPlan(t, members, func() { p = launch() })
	var again joinPing
	if again.first, again.err = j.replies(restart); again.err != nil {
		t.Fatal(again.err)
	}
	rows = append(rows, f.joinRows(t, "restarted", members, loops, p, restart, back, again)...)
	view, err := os.ReadFile(f.viewFile(members[0])) // before docker4 leaves it again
	if err != nil {
		t.Fatal(err)
	}
	p.waitHealthy(t, time.Minute)
	p.stop(t)
	return rows, start, flows, view
}

// joinRows are the table's rows of one join of docker4 (p, started at start):
// its join, each member's view change and flow, and the pings.
func (f *fleetLab) joinRows(t *testing.T, how string, members []string, loops []*loopProc, p *loopProc, start time.Time, flows map[string]time.Time, ping joinPing) [][4]string {
	t.Helper()
	joined := p.logs(t, 0, "fleet: joined")
	if len(joined) != 1 {
		t.Fatalf("docker4 logged %d joins, want 1", len(joined))
	}
	row := func(what string, d time.Duration) [4]string {
		return [4]string{how + " docker4: " + what, fmtDur(d), "-", "-"}
	}
	rows := [][4]string{row("its start to its join (its `fleet: joined` log line)", joined[0].Time.Sub(start))}
	for i, h := range members {
		var viewAt time.Time // when h saved the view with docker4: its last view change
		if v := loops[i].logs(t, 0, "fleet view changed"); len(v) > 0 {
			viewAt = v[len(v)-1].Time
		}
		rows = append(rows, row("its start to its tunnel in "+h+"'s flow table", flows[h].Sub(start)),
			row("of which its join to "+h+"'s view change (`fleet view changed`)", viewAt.Sub(joined[0].Time)),
			row("of which "+h+"'s view change to the tunnel in its flow table", flows[h].Sub(viewAt)))
	}
	// Its own side: its loop's start, its first view from etcd, the end of its
	// first pass that changed something (the pass logs its changes at its end).
	for _, m := range []struct{ msg, what string }{
		{"reconcile loop started", "its loop started (`reconcile loop started`)"},
		{"fleet view changed", "its first view from etcd in force (`fleet view changed`)"},
		{"change", "the end of its first pass that changed something (its first `change` log line)"},
	} {
		if e := p.logs(t, 0, m.msg); len(e) > 0 {
			rows = append(rows, row("its start to "+m.what, e[0].Time.Sub(start)))
		}
	}
	if !ping.docker0.IsZero() {
		rows = append(rows, row("its start to its docker0 (made by its first pass at 1003 hosts)", ping.docker0.Sub(start)),
			row("its start to a container on it (added once docker0 was there)", ping.container.Sub(start)))
	}
	for _, h := range members {
		rows = append(rows, row("its start to the first reply to a ping from a container on "+h+" to a container on docker4 (every 20 ms, ARP retried every 20 ms)", ping.first[h].Sub(start)))
	}
	return rows
}

// flows is host's flows that match match ("" if they cannot be read).
func (f *fleetLab) flows(host, match string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, _ := f.host(host).Run(ctx, "ovs-ofctl", "-O", "OpenFlow14", "--timeout=10", "dump-flows", "br0", match)
	return out
}
