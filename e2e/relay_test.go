package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// A mesh with bfd: true routes around a dead underlay path through a third host
// (docs/bfd.md). These tests cut the path between docker1 and docker2 only, both
// ways, in the lab's underlay bridge, while the containers ping every 10 ms.

func TestRelayFailoverGRE(t *testing.T) {
	t.Parallel()
	testRelayFailover(t, "  encap: gre\n  bfd: true\n")
}

func TestRelayFailoverVXLAN(t *testing.T) {
	t.Parallel()
	testRelayFailover(t, "  encap: vxlan\n  bfd: true\n")
}

// relayLab is a lab whose hosts are all applied, with one container each (the
// relay tests and the failover benchmark).
type relayLab struct {
	*cluster
	cts   map[string]*lab.Container // by host
	under map[string]netip.Addr     // underlay address by host
}

// newCutLab builds the topology's lab, applies on every host and adds container
// 2 of each host.
func newCutLab(tb testing.TB, yaml string) *relayLab {
	tb.Helper()
	c := newCluster(tb, yaml)
	r := &relayLab{cluster: c, cts: map[string]*lab.Container{}, under: map[string]netip.Addr{}}
	r.applyAll()
	for _, h := range c.topo.Hosts {
		r.cts[h.Name] = c.container(h.Name, 2)
		r.under[h.Name] = h.Address
	}
	return r
}

// applyAll runs one pass on every host and fails unless each succeeds (quietly:
// a benchmark prints its logs).
func (r *relayLab) applyAll() {
	r.t.Helper()
	for _, h := range r.topo.Hosts {
		if out, err := r.apply(h.Name); err != nil {
			r.t.Fatalf("apply on %s: %v\n%s", h.Name, err, out)
		}
	}
}

// newRelayLab is a three-host mesh with the given network settings (BFD on),
// every BFD session up and the relay choice in place.
func newRelayLab(t *testing.T, network string) *relayLab {
	r := newCutLab(t, labTopology(network, 3))
	r.waitAllBFD()
	// A pass sends through a relay only toward peers whose BFD session has
	// been up (the first pass created the tunnels): run the pass the loop runs
	// when the sessions come up.
	r.applyAll()
	return r
}

// waitAllBFD waits until every tunnel's BFD session on every host is up.
func (r *relayLab) waitAllBFD() {
	r.t.Helper()
	for _, h := range r.topo.Hosts {
		for _, tu := range r.plan(h.Name).OVS.Tunnels {
			r.waitBFD(h.Name, tu.Name, "up")
		}
	}
}

// waitBFD waits until the tunnel's BFD state is state.
func (r *relayLab) waitBFD(host, tunnel, state string) {
	r.t.Helper()
	var got string
	if _, ok := poll(30*time.Second, func() bool {
		got = strings.Trim(r.vsctl(host, "get", "interface", tunnel, "bfd_status:state"), `"`)
		return got == state
	}); !ok {
		r.t.Fatalf("%s: BFD on %s is %q after 30 s, want %q", host, tunnel, got, state)
	}
}

// tunnel returns the name of host's tunnel to peer.
func (r *relayLab) tunnel(host, peer string) string {
	r.t.Helper()
	for _, tu := range r.plan(host).OVS.Tunnels {
		if tu.Peer == peer {
			return tu.Name
		}
	}
	r.t.Fatalf("%s has no tunnel to %s", host, peer)
	return ""
}

// cut breaks the underlay between two hosts and returns the restore function.
func (r *relayLab) cut(a, b string) func() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	restore, err := r.lab.Cut(ctx, r.under[a], r.under[b])
	if err != nil {
		r.t.Fatal(err)
	}
	return func() {
		r.t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := restore(ctx); err != nil {
			r.t.Fatal(err)
		}
	}
}

// relayed returns the packets docker3 relayed from docker1 to docker2 (its table-2
// flow for frames marked "relay to docker2").
func (r *relayLab) relayed() int {
	r.t.Helper()
	return flowPackets(r.t, r.ofctl("docker3", "dump-flows", "br0", "table=2,tun_id=0x800002"))
}

func testRelayFailover(t *testing.T, network string) {
	r := newRelayLab(t, network)
	// The relay table reads back as written: a converged pass changes nothing.
	if out, err := r.apply("docker1"); err != nil || !strings.Contains(out, "matches the plan, nothing to change") {
		t.Errorf("apply again on docker1 (%v): want no change:\n%s", err, out)
	}
	// The default timers reach OVSDB: 100 ms each way, 3 packets.
	if got, want := r.vsctl("docker1", "get", "interface", r.tunnel("docker1", "docker2"), "bfd"), `{enable="true", min_rx="100", min_tx="100", mult="3"}`; got != want {
		t.Errorf("docker1's tunnel to docker2: bfd %s, want %s", got, want)
	}
	if got := r.plan("docker1").OVS.Tunnels[0].Relays.Names(); !slices.Equal(got, []string{"docker3"}) {
		t.Fatalf("docker1's relays toward docker2: %q, want [docker3]", got)
	}
	src, dst := r.cts["docker1"], r.cts["docker2"]
	ping(t, src, dst.Addr.Addr(), 0, false)
	p := startPinger(t, src, dst.Addr.Addr(), 10*time.Millisecond, 0)
	time.Sleep(time.Second)

	const cuts = 5
	var outages, restores, quiet []time.Duration
	for i := range cuts {
		before := r.relayed()
		at := time.Now()
		quiet = append(quiet, p.replies().gap(at.Add(-time.Second), at)) // the machine's own jitter
		restore := r.cut("docker1", "docker2")
		// Wait for the replies to come back while the path is still cut: without
		// a relay they never do.
		if !waitReply(p, at.Add(200*time.Millisecond), 20*time.Second-time.Since(at)) {
			restore()
			t.Fatalf("cut %d: no reply in the 20 s after cutting docker1-docker2", i+1)
		}
		time.Sleep(time.Second)
		if n := r.relayed(); n <= before {
			t.Errorf("cut %d: docker3 relayed no packet toward docker2 (%d before, %d after)", i+1, before, n)
		}
		back := time.Now()
		restore()
		r.waitBFD("docker1", r.tunnel("docker1", "docker2"), "up")
		r.waitBFD("docker2", r.tunnel("docker2", "docker1"), "up")
		time.Sleep(time.Second)
		l := p.replies()
		outages = append(outages, l.gap(at, back))
		restores = append(restores, l.gap(back, time.Now()))
	}
	l := p.stop()
	if l.dups != 0 {
		t.Errorf("%d duplicate replies, want none", l.dups)
	}
	t.Logf("%s outage over %d cuts (longest gap between replies, pings every 10 ms): %s; around the restores: %s; in the second before each cut: %s",
		strings.Fields(network)[1], cuts, spread(outages), spread(restores), spread(quiet))
}

// flowPackets sums n_packets over the flows of a dump-flows output.
func flowPackets(t testing.TB, dump string) int {
	t.Helper()
	total := 0
	for _, f := range strings.Fields(strings.ReplaceAll(dump, ",", " ")) {
		if v, ok := strings.CutPrefix(f, "n_packets="); ok {
			var n int
			if _, err := fmt.Sscan(v, &n); err != nil {
				t.Fatalf("n_packets %q: %v", v, err)
			}
			total += n
		}
	}
	return total
}

// spread writes min, median and max of durations.
func spread(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return "none"
	}
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("min %v, median %v, max %v", r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]))
}
