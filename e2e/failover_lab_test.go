package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/topology"
)

// The failover benchmark's lab: the harness's cluster, pinger and spanning-tree
// wait take a *testing.T, which a benchmark does not have, so this file holds
// the same few helpers over testing.TB.

// benchLab is a three-host lab with every host applied and one container each.
type benchLab struct {
	tb    testing.TB
	lab   *lab.Lab
	dir   string
	path  string
	topo  *topology.Topology
	cts   map[string]*lab.Container // by host
	under map[string]netip.Addr     // underlay address by host
}

// newBenchLab writes the topology, builds the lab (torn down by tb's cleanup),
// applies on every host and adds one container per host.
func newBenchLab(tb testing.TB, yaml string) *benchLab {
	tb.Helper()
	if testing.Short() {
		tb.Skip("end-to-end benchmark: skipped under -short")
	}
	l := &benchLab{tb: tb, dir: tb.TempDir(), cts: map[string]*lab.Container{}, under: map[string]netip.Addr{}}
	l.path = filepath.Join(l.dir, "topology.yaml")
	if err := os.WriteFile(l.path, []byte(yaml), 0o644); err != nil {
		tb.Fatal(err)
	}
	topo, err := topology.Load(l.path)
	if err != nil {
		tb.Fatalf("benchmark topology: %v", err)
	}
	l.topo = topo
	var specs []lab.HostSpec
	for _, h := range topo.Hosts {
		specs = append(specs, lab.HostSpec{Name: h.Name, Underlay: netip.PrefixFrom(h.Address, 24)})
		l.under[h.Name] = h.Address
		if err := os.MkdirAll(filepath.Join(l.dir, h.Name), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	l.lab = lab.NewT(tb, specs...)
	for _, h := range topo.Hosts {
		l.apply(h.Name)
	}
	for _, h := range topo.Hosts {
		l.cts[h.Name] = l.container(h.Name)
	}
	return l
}

// apply runs one `ovsmesh apply` pass on host and fails unless it succeeds.
func (l *benchLab) apply(host string) {
	l.tb.Helper()
	h := l.host(host)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := h.Command(ctx, ovsmeshBin, "apply", l.path, "--host", host, "--db", h.DB(),
		"--interfaces", filepath.Join(l.dir, host, "interfaces"),
		"--daemon-json", filepath.Join(l.dir, host, "daemon.json")).CombinedOutput()
	if err != nil {
		l.tb.Fatalf("apply on %s: %v\n%s", host, err, out)
	}
}

func (l *benchLab) host(name string) *lab.Host {
	l.tb.Helper()
	h := l.lab.Host(name)
	if h == nil {
		l.tb.Fatalf("no host %q in the lab", name)
	}
	return h
}

// plan returns host's desired state.
func (l *benchLab) plan(host string) topology.HostState {
	l.tb.Helper()
	s, err := l.topo.Desired(host)
	if err != nil {
		l.tb.Fatal(err)
	}
	return s
}

// container adds container 2 of host (the second address of its slice), as the
// harness's cluster.container does.
func (l *benchLab) container(host string) *lab.Container {
	l.tb.Helper()
	s := l.plan(host)
	a := s.Docker.FixedCIDR.Addr().Next().Next()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ct, err := l.host(host).AddContainer(ctx, "c2"+strings.TrimPrefix(host, "docker"),
		netip.PrefixFrom(a, s.Docker.Subnet.Bits()), s.Docker.Address.Addr(), s.Docker.MTU)
	if err != nil {
		l.tb.Fatal(err)
	}
	return ct
}

// run runs a command in host's namespace and fails on error.
func (l *benchLab) run(host string, argv ...string) string {
	l.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := l.host(host).Run(ctx, argv...)
	if err != nil {
		l.tb.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// bfdState returns the BFD state of host's tunnel.
func (l *benchLab) bfdState(host, tunnel string) string {
	l.tb.Helper()
	h := l.host(host)
	return strings.Trim(l.run(host, "ovs-vsctl", "--db="+h.DB(), "--timeout=10",
		"get", "interface", tunnel, "bfd_status:state"), `"`)
}

// waitBFDUp waits until every BFD session of every host is up.
func (l *benchLab) waitBFDUp() {
	l.tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, h := range l.topo.Hosts {
		for _, tu := range l.plan(h.Name).OVS.Tunnels {
			for l.bfdState(h.Name, tu.Name) != "up" {
				if time.Now().After(deadline) {
					l.tb.Fatalf("%s: BFD on %s not up after 30 s", h.Name, tu.Name)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
}

// cut breaks the underlay between two hosts, both ways, and returns the
// function that restores it.
func (l *benchLab) cut(a, b string) func() {
	l.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	restore, err := l.lab.Cut(ctx, l.under[a], l.under[b])
	if err != nil {
		l.tb.Fatal(err)
	}
	return func() {
		l.tb.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := restore(ctx); err != nil {
			l.tb.Fatal(err)
		}
	}
}

// treeConverged polls `ovs-appctl CMD br0` on every host every second, up to
// limit, until twice in a row every tunnel port is in state fwd or block and
// exactly one port of the triangle is in block; it returns the blocked port as
// "host:row" with the root bridge. It fails tb if that never happens.
func (l *benchLab) treeConverged(cmd, fwd, block string, limit time.Duration) (blocked, root string) {
	l.tb.Helper()
	deadline := time.Now().Add(limit)
	stable := 0
	for {
		why := ""
		blocked, root = "", ""
		n := 0
		for _, h := range l.topo.Hosts {
			s := stpParse(l.run(h.Name, "ovs-appctl", cmd, "br0"))
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
			l.tb.Fatalf("spanning tree (%s) not converged after %v: %s", cmd, limit, why)
		}
		time.Sleep(time.Second)
	}
}

// waitReply waits until a reply comes later than t, up to limit from now, and
// reports whether one did.
func waitReply(p *pinger, t time.Time, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for !p.replies().after(t) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// gapSince is the longest time without a reply in [from, to], counted from from
// itself (not from the last reply before it, unlike pingLog.gap): after a cut
// that never recovered, the gap around the restore is then the time the restore
// took to bring the replies back, not the whole outage again.
func (l pingLog) gapSince(from, to time.Time) time.Duration {
	var longest time.Duration
	prev := from
	for _, at := range l.at {
		if !at.After(prev) {
			continue
		}
		if at.After(to) {
			return max(longest, to.Sub(prev))
		}
		longest = max(longest, at.Sub(prev))
		prev = at
	}
	return max(longest, to.Sub(prev))
}

// outageEnd returns the reply that ends the longest gap overlapping [from, to],
// counted as pingLog.gap counts it, and whether there is one before to.
func (l pingLog) outageEnd(from, to time.Time) (time.Time, bool) {
	var longest time.Duration
	var end time.Time
	prev := from
	if i, _ := slices.BinarySearchFunc(l.at, from, time.Time.Compare); i > 0 {
		prev = l.at[i-1]
	}
	for _, at := range l.at {
		if !at.After(prev) {
			continue
		}
		if at.After(to) {
			break
		}
		if d := at.Sub(prev); d > longest {
			longest, end = d, at
		}
		prev = at
	}
	if to.Sub(prev) > longest {
		return time.Time{}, false
	}
	return end, !end.IsZero()
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
