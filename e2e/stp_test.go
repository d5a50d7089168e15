package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// TestSTP proves the stp mode, the classic recipe, on a three-host
// full mesh (a triangle, so one loop): STP on every bridge, a tunnel to every
// peer, 802.1D converging with its default timers to exactly one blocked port,
// then every container reaching every other, a broadcast delivered once per
// container and no storm.
func TestSTP(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n  mode: stp\n", 3))
	start := time.Now()
	c.mustApply()
	hosts := []string{"docker1", "docker2", "docker3"}

	t.Run("STP on every bridge, a tunnel to every peer", func(t *testing.T) {
		for _, h := range hosts {
			if got := c.vsctl(h, "get", "bridge", "br0", "stp_enable"); got != "true" {
				t.Errorf("%s: br0 stp_enable = %s, want true", h, got)
			}
			if got := c.vsctl(h, "get", "bridge", "br0", "rstp_enable"); got != "false" {
				t.Errorf("%s: br0 rstp_enable = %s, want false", h, got)
			}
		}
		stpCheckFullMesh(t, c, hosts)
	})

	// 802.1D with the default timers: 15 s listening + 15 s learning before a
	// port forwards. The bound leaves room for a loaded machine.
	conv := stpConverge(t, c, hosts, "stp/show", "forwarding", "blocking", 90*time.Second)
	took := time.Since(start)
	t.Logf("STP converged %v after the first apply", took.Round(100*time.Millisecond))
	if took < 25*time.Second {
		t.Errorf("STP converged in %v, faster than 802.1D's default listening+learning (30 s): are the timers shortened?", took)
	}

	t.Run("one blocked port, between the two non-root bridges", func(t *testing.T) {
		stpCheckRing(t, c, hosts, conv, "stp_state", "blocking")
	})
	t.Run("ovsmesh status shows each tunnel's role and state", func(t *testing.T) {
		stpCheckStatus(t, c, hosts, false)
	})

	cts := map[string]*lab.Container{}
	for _, h := range hosts {
		cts[h] = c.container(h, 2)
	}

	t.Run("every container pings every other", func(t *testing.T) {
		pingAll(t, hosts, cts)
	})

	t.Run("a broadcast reaches each other container once, and no storm", func(t *testing.T) {
		stpBroadcastOnceNoStorm(t, c, hosts, cts)
	})
}

// TestSTPRapid is stp mode with `rstp: true`: RSTP on every bridge instead of
// 802.1D, converging in seconds (proposal/agreement on the point-to-point
// tunnels) instead of STP's 30 s, to the same single discarding port.
func TestSTPRapid(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n  mode: stp\n  rstp: true\n", 3))
	start := time.Now()
	c.mustApply()
	hosts := []string{"docker1", "docker2", "docker3"}

	t.Run("RSTP on every bridge, a tunnel to every peer", func(t *testing.T) {
		for _, h := range hosts {
			if got := c.vsctl(h, "get", "bridge", "br0", "rstp_enable"); got != "true" {
				t.Errorf("%s: br0 rstp_enable = %s, want true", h, got)
			}
			if got := c.vsctl(h, "get", "bridge", "br0", "stp_enable"); got != "false" {
				t.Errorf("%s: br0 stp_enable = %s, want false (RSTP replaces it)", h, got)
			}
		}
		stpCheckFullMesh(t, c, hosts)
	})

	conv := stpConverge(t, c, hosts, "rstp/show", "Forwarding", "Discarding", 60*time.Second)
	took := time.Since(start)
	t.Logf("RSTP converged %v after the first apply", took.Round(100*time.Millisecond))
	// 802.1D cannot forward before 2 × forward delay = 30 s.
	if took >= 20*time.Second {
		t.Errorf("RSTP took %v to converge, want well under STP's 30 s", took)
	}

	t.Run("one discarding port, between the two non-root bridges", func(t *testing.T) {
		stpCheckRing(t, c, hosts, conv, "rstp_port_state", "Discarding")
	})
	t.Run("ovsmesh status shows each tunnel's role and state", func(t *testing.T) {
		stpCheckStatus(t, c, hosts, true)
	})

	cts := map[string]*lab.Container{}
	for _, h := range hosts {
		cts[h] = c.container(h, 2)
	}
	t.Run("every container pings every other", func(t *testing.T) {
		pingAll(t, hosts, cts)
	})
	t.Run("a broadcast reaches each other container once, and no storm", func(t *testing.T) {
		stpBroadcastOnceNoStorm(t, c, hosts, cts)
	})
}

// stpCheckFullMesh checks that each host owns one GRE tunnel per peer and that the
// tunnels pair up into every pair of hosts.
func stpCheckFullMesh(t *testing.T, c *cluster, hosts []string) {
	t.Helper()
	edges := map[string]int{}
	total := 0
	for _, h := range hosts {
		names := ownedTunnels(t, c, h)
		var want []string
		for _, p := range hosts {
			if p != h {
				want = append(want, "gre-"+p)
			}
		}
		if !slices.Equal(names, want) {
			t.Errorf("%s: ovsmesh's tunnels %q, want %q", h, names, want)
		}
		for _, n := range names {
			peer := strings.TrimPrefix(n, "gre-")
			edges[min(h, peer)+"-"+max(h, peer)]++
			total++
		}
	}
	if total != 2*3 || len(edges) != 3 {
		t.Errorf("tunnel ends %d over %d host pairs, want 6 ends over 3 pairs: %v", total, len(edges), edges)
	}
	for e, n := range edges {
		if n != 2 {
			t.Errorf("tunnel %s has %d ends, want 2 (one on each host)", e, n)
		}
	}
}

// ownedTunnels lists the GRE interfaces that ovsmesh owns on host, sorted.
func ownedTunnels(t *testing.T, c *cluster, host string) []string {
	t.Helper()
	out := c.vsctl(host, "--format=csv", "--data=bare", "--no-headings", "--columns=name",
		"find", "interface", "external_ids:ovsmesh-owner="+host, "type=gre")
	names := strings.Fields(out)
	slices.Sort(names)
	return names
}

// stpPort is one row of the port table of `ovs-appctl stp/show` or `rstp/show`.
// OVS prints the interface name cut to 10 characters ("gre-docker"), so the
// name only says that the row is a tunnel.
type stpPort struct {
	Name, Role, State string
}

// stpShow is what `ovs-appctl stp/show br0` (or rstp/show) says about a bridge.
type stpShow struct {
	Root     bool   // "This bridge is the root"
	RootPort string // the full name of the root port, on a non-root bridge
	Ports    []stpPort
	Text     string
}

var stpRootPortRE = regexp.MustCompile(`(?m)^\s*root-port\s+(\S+)\s*$`)

// stpParse parses the output of `ovs-appctl stp/show BRIDGE` or `rstp/show
// BRIDGE` on OVS 3.1: a Root ID block ("This bridge is the root" or
// "root-port NAME"), a Bridge ID block, then a table with a header line of
// dashes and one row per port (Interface Role State Cost Pri.Nbr).
func stpParse(out string) stpShow {
	s := stpShow{Text: out}
	s.Root = strings.Contains(out, "This bridge is the root")
	if m := stpRootPortRE.FindStringSubmatch(out); m != nil {
		s.RootPort = m[1]
	}
	table := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && strings.HasPrefix(f[0], "----------"):
			table = true
		case table && len(f) == 0:
			table = false
		case table && len(f) >= 3:
			s.Ports = append(s.Ports, stpPort{Name: f[0], Role: f[1], State: f[2]})
		}
	}
	return s
}

// stpConverge polls `ovs-appctl CMD br0` on every host (every second, up to
// limit) until it has seen twice in a row: on each host one port row per tunnel,
// every port in state fwd or block, and exactly one blocked port in the whole
// mesh (a triangle has one loop). It fails the test if that never happens, and
// returns the last reading of each host.
func stpConverge(t *testing.T, c *cluster, hosts []string, cmd, fwd, block string, limit time.Duration) map[string]stpShow {
	t.Helper()
	deadline := time.Now().Add(limit)
	stable := 0
	var last map[string]stpShow
	var why string
	for {
		last, why = map[string]stpShow{}, ""
		blocked := 0
		for _, h := range hosts {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, err := c.host(h).Run(ctx, "ovs-appctl", cmd, "br0")
			cancel()
			if err != nil {
				t.Fatalf("%s: %v", h, err)
			}
			s := stpParse(out)
			last[h] = s
			if n := len(c.plan(h).OVS.Tunnels); len(s.Ports) != n && why == "" {
				why = fmt.Sprintf("%s shows %d ports, want its %d tunnels", h, len(s.Ports), n)
			}
			for _, p := range s.Ports {
				switch p.State {
				case block:
					blocked++
				case fwd:
				default:
					if why == "" {
						why = fmt.Sprintf("%s has a port %s %s", h, p.Role, p.State)
					}
				}
			}
		}
		if why == "" && blocked != 1 {
			why = fmt.Sprintf("%d ports %s in the mesh, want 1", blocked, block)
		}
		if why == "" {
			if stable++; stable == 2 {
				return last
			}
		} else {
			stable = 0
		}
		if time.Now().After(deadline) {
			for _, h := range hosts {
				t.Logf("%s: ovs-appctl %s br0:\n%s", h, cmd, last[h].Text)
			}
			t.Fatalf("spanning tree not converged after %v: %s", limit, why)
		}
		time.Sleep(time.Second)
	}
}

var stpStateRE = regexp.MustCompile(`\b(rstp_port_state|stp_state)="?([A-Za-z]+)"?`)

// stpCheckRing checks what a converged triangle must look like: exactly one root
// bridge, whose ports all forward; each other bridge has a root port pointing at
// the root; the one blocked port is on a non-root bridge and faces the other
// non-root bridge. The port names come from OVSDB (Port status or rstp_status,
// key stateKey), which must agree with ovs-appctl's table.
func stpCheckRing(t *testing.T, c *cluster, hosts []string, conv map[string]stpShow, stateKey, block string) {
	t.Helper()
	var root string
	for _, h := range hosts {
		if conv[h].Root {
			if root != "" {
				t.Fatalf("two root bridges: %s and %s", root, h)
			}
			root = h
		}
	}
	if root == "" {
		t.Fatalf("no bridge is the root:\n%v", conv)
	}
	column := "status"
	if stateKey == "rstp_port_state" {
		column = "rstp_status"
	}
	var blocked []string // host:port
	for _, h := range hosts {
		s := conv[h]
		if h != root && s.RootPort != "gre-"+root {
			t.Errorf("%s: root port %q, want gre-%s (straight to the root bridge %s)", h, s.RootPort, root, root)
		}
		for _, tu := range c.plan(h).OVS.Tunnels {
			st := c.vsctl(h, "get", "port", tu.Name, column)
			m := stpStateRE.FindStringSubmatch(st)
			if m == nil || m[1] != stateKey {
				t.Errorf("%s: port %s %s has no %s: %s", h, tu.Name, column, stateKey, st)
				continue
			}
			if m[2] == block {
				blocked = append(blocked, h+":"+tu.Name)
			}
		}
	}
	t.Logf("root bridge %s, blocked %q", root, blocked)
	if len(blocked) != 1 {
		t.Fatalf("OVSDB shows %d ports %s (%q), want 1 like ovs-appctl", len(blocked), block, blocked)
	}
	h, port, _ := strings.Cut(blocked[0], ":")
	peer := strings.TrimPrefix(port, "gre-")
	if h == root || peer == root {
		t.Errorf("blocked port %s on %s touches the root bridge %s; want the link between the two others", port, h, root)
	}
}

// stpBroadcastOnceNoStorm sends one subnet broadcast from the first host's
// container and checks that each other container receives it exactly once and
// that the tunnels stay quiet afterwards: on a loop that STP failed to cut, that
// one frame would circle for ever (tens of thousands of packets a second).
func stpBroadcastOnceNoStorm(t *testing.T, c *cluster, hosts []string, cts map[string]*lab.Container) {
	want := map[string][2]int{}
	for _, h := range hosts[1:] {
		want[h] = [2]int{1, 1}
	}
	broadcastNoStorm(t, c, hosts, cts, want)
}

// broadcastNoStorm sends one subnet broadcast from the first host's container,
// checks how often each other host's container receives it (want: at least, at
// most; absent: never), and that the tunnels stay quiet for 5 s afterwards.
func broadcastNoStorm(t *testing.T, c *cluster, hosts []string, cts map[string]*lab.Container, want map[string][2]int) {
	t.Helper()
	bcast := netip.MustParseAddr("172.17.255.255")
	caps := map[string]*capture{}
	for _, h := range hosts[1:] {
		caps[h] = startCapture(t, cts[h], "icmp and dst host "+bcast.String())
	}
	before, t0 := stpTunnelPackets(t, c, hosts), time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := cts[hosts[0]].Run(ctx, "ping", "-b", "-c", "1", "-W", "1", bcast.String()); err != nil {
		t.Logf("ping -b (no reply expected): %v", err)
	} else {
		t.Logf("ping -b: %s", out)
	}
	// The measurement window: 5 s of a mesh that has only that frame and STP's
	// own BPDUs (one every 2 s per designated port) to carry.
	time.Sleep(5 * time.Second)
	after, t1 := stpTunnelPackets(t, c, hosts), time.Now()
	for _, h := range hosts[1:] {
		if got, w := caps[h].stop(), want[h]; len(got) < w[0] || len(got) > w[1] {
			t.Errorf("%s's container saw the broadcast %d times, want %d to %d: %q", h, len(got), w[0], w[1], got)
		}
	}
	var total int64
	for k, n := range after {
		d := n - before[k]
		total += d
		t.Logf("%s: %d packets in %v", k, d, t1.Sub(t0).Round(time.Millisecond))
	}
	rate := float64(total) / t1.Sub(t0).Seconds()
	t.Logf("tunnels, all hosts, rx+tx: %d packets in %v, %.1f packets/s", total, t1.Sub(t0).Round(time.Millisecond), rate)
	if rate >= 200 {
		t.Errorf("tunnels carried %.0f packets/s with one broadcast to deliver, want < 200: a broadcast storm", rate)
	}
}

var stpPortStatsRE = regexp.MustCompile(`port\s+"?([^":\s]+)"?:\s*rx pkts=(\d+),.*\n\s*tx pkts=(\d+),`)

// stpTunnelPackets reads the rx and tx packet counters of every tunnel port of
// every host straight from ovs-vswitchd (`ovs-ofctl dump-ports`: OVSDB's
// statistics column lags by up to 5 s), keyed "host port rx|tx".
func stpTunnelPackets(t *testing.T, c *cluster, hosts []string) map[string]int64 {
	t.Helper()
	counts := map[string]int64{}
	for _, h := range hosts {
		out := c.ofctl(h, "dump-ports", "br0")
		byPort := map[string][2]int64{}
		for _, m := range stpPortStatsRE.FindAllStringSubmatch(out, -1) {
			rx, _ := strconv.ParseInt(m[2], 10, 64)
			tx, _ := strconv.ParseInt(m[3], 10, 64)
			byPort[m[1]] = [2]int64{rx, tx}
		}
		for _, tu := range c.plan(h).OVS.Tunnels {
			n, ok := byPort[strconv.Itoa(tu.OFPort)]
			if !ok {
				t.Fatalf("%s: no counters for tunnel %s (port %d) in:\n%s", h, tu.Name, tu.OFPort, out)
			}
			counts[h+" "+tu.Name+" rx"] = n[0]
			counts[h+" "+tu.Name+" tx"] = n[1]
		}
	}
	return counts
}
