package e2e

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// TestTree proves the tree mode on four hosts with weighted
// candidate links: only the minimum spanning tree's edges get tunnels, the
// bridges run no STP, hosts that are not neighbours talk through relays (at the
// full MTU), and a change of costs moves the tunnels to the new tree.
func TestTree(t *testing.T) {
	t.Parallel()
	hosts := []string{"docker1", "docker2", "docker3", "docker4"}
	// Kruskal over (cost, a, b): 1-2, 2-3, 3-4 at cost 1 connect everything, so
	// the tree is the chain 1-2-3-4 and docker1 reaches docker4 through docker2
	// and docker3.
	c := newCluster(t, labTopology("  encap: gre\n  mode: tree\n", 4,
		"{a: docker1, b: docker2, cost: 1}",
		"{a: docker2, b: docker3, cost: 1}",
		"{a: docker3, b: docker4, cost: 1}",
		"{a: docker1, b: docker3, cost: 5}",
		"{a: docker1, b: docker4, cost: 9}",
		"{a: docker2, b: docker4, cost: 7}",
	))
	c.mustApply()

	t.Run("tunnels only on the tree's edges, no STP", func(t *testing.T) {
		treeCheckEdges(t, c, hosts, "docker1-docker2", "docker2-docker3", "docker3-docker4")
		for _, h := range hosts {
			for _, col := range []string{"stp_enable", "rstp_enable"} {
				if got := c.vsctl(h, "get", "bridge", "br0", col); got != "false" {
					t.Errorf("%s: br0 %s = %s, want false (a tree has no loop)", h, col, got)
				}
			}
		}
	})

	cts := map[string]*lab.Container{}
	for _, h := range hosts {
		cts[h] = treeContainer(t, c, h)
	}
	mtu := c.topo.Network.MTU

	t.Run("every container pings every other through the relays", func(t *testing.T) {
		pingAll(t, hosts, cts)
	})

	t.Run("docker1 to docker4 is relayed by docker2 and docker3", func(t *testing.T) {
		// Full-size pings, so that the bytes they add to each relay's tunnel
		// counters stand out from any other frame: each relay sends the requests
		// on towards docker4 and the replies back towards docker1.
		relays := []struct{ host, toward string }{
			{"docker2", "docker3"}, {"docker3", "docker4"}, // requests
			{"docker3", "docker2"}, {"docker2", "docker1"}, // replies
		}
		before := make([][2]int64, len(relays))
		for i, r := range relays {
			before[i][0], before[i][1] = treeTx(t, c, r.host, r.toward)
		}
		const n = 10
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		argv := []string{"ping", "-n", "-c", strconv.Itoa(n), "-i", "0.2", "-W", "2", "-M", "do", "-s", strconv.Itoa(mtu - 28), addr(cts["docker4"].Addr).String()}
		out, err := cts["docker1"].Run(ctx, argv...)
		if err != nil {
			t.Fatalf("docker1 -> docker4: %v\n%s", err, out)
		}
		if strings.Contains(out, "DUP!") {
			t.Errorf("docker1 -> docker4: duplicate replies (a relay floods or loops):\n%s", out)
		}
		for i, r := range relays {
			p, b := treeTx(t, c, r.host, r.toward)
			d := b - before[i][1]
			t.Logf("%s sent %d packets, %d bytes into its tunnel to %s during %d pings of %d bytes from docker1 to docker4", r.host, p-before[i][0], d, r.toward, n, mtu)
			if d < n*int64(mtu) {
				t.Errorf("%s sent %d bytes into its tunnel to %s, want ≥ %d (%d packets of %d bytes): it does not relay", r.host, d, r.toward, n*mtu, n, mtu)
			}
		}
	})

	t.Run("full MTU with DF across two relays", func(t *testing.T) {
		ping(t, cts["docker1"], addr(cts["docker4"].Addr), mtu-28, true)
		ping(t, cts["docker4"], addr(cts["docker1"].Addr), mtu-28, true)
	})

	// New costs: 1-2, 1-4, 3-4 at cost 1 come first and connect everything;
	// 2-3 (now 9) leaves the tree, 1-4 joins it. The chain is now 2-1-4-3.
	c.write(labTopology("  encap: gre\n  mode: tree\n", 4,
		"{a: docker1, b: docker2, cost: 1}",
		"{a: docker2, b: docker3, cost: 9}",
		"{a: docker3, b: docker4, cost: 1}",
		"{a: docker1, b: docker3, cost: 5}",
		"{a: docker1, b: docker4, cost: 1}",
		"{a: docker2, b: docker4, cost: 7}",
	))
	c.mustApply()

	t.Run("after a change of costs the tunnels follow the new tree", func(t *testing.T) {
		for _, gone := range [][2]string{{"docker2", "gre-docker3"}, {"docker3", "gre-docker2"}} {
			for _, table := range []string{"port", "interface"} {
				if got := c.vsctl(gone[0], "--format=csv", "--data=bare", "--no-headings", "--columns=_uuid", "find", table, "name="+gone[1]); got != "" {
					t.Errorf("%s: %s %s still exists (edge 2-3 left the tree)", gone[0], table, gone[1])
				}
			}
		}
		for _, added := range [][2]string{{"docker1", "gre-docker4"}, {"docker4", "gre-docker1"}} {
			if got := ownedTunnels(t, c, added[0]); !slices.Contains(got, added[1]) {
				t.Errorf("%s: ovsmesh's tunnels %q lack %s (edge 1-4 joined the tree)", added[0], got, added[1])
			}
		}
		treeCheckEdges(t, c, hosts, "docker1-docker2", "docker1-docker4", "docker3-docker4")
	})

	t.Run("every container still pings every other", func(t *testing.T) {
		pingAll(t, hosts, cts)
	})

	t.Run("once each container has broadcast, every pair pings over the new tree", func(t *testing.T) {
		// A broadcast from each container is flooded along the new tree and
		// teaches every bridge where that container now is.
		for _, h := range hosts {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _ = cts[h].Run(ctx, "ping", "-b", "-c", "1", "-W", "1", "172.17.255.255")
			cancel()
		}
		pingAll(t, hosts, cts)
		// docker2 and docker3 were neighbours; now two relays (1 and 4) apart.
		ping(t, cts["docker2"], addr(cts["docker3"].Addr), mtu-28, true)
		ping(t, cts["docker3"], addr(cts["docker2"].Addr), mtu-28, true)
	})
}

// treeContainer adds a container to host with IPv6 off, as Docker does on an
// IPv4-only network: no stray IPv6 chatter (router solicitations, MLD reports)
// that would refresh the bridges' MAC tables behind the test's back.
func treeContainer(t *testing.T, c *cluster, host string) *lab.Container {
	t.Helper()
	ct := c.container(host, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ct.Run(ctx, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"); err != nil {
		t.Fatal(err)
	}
	return ct
}

// treeCheckEdges checks that the GRE tunnels ovsmesh owns across the lab are
// exactly the given edges ("docker1-docker2", names in order), each with one end
// on each of its two hosts.
func treeCheckEdges(t *testing.T, c *cluster, hosts []string, want ...string) {
	t.Helper()
	ends := map[string][]string{}
	for _, h := range hosts {
		for _, name := range ownedTunnels(t, c, h) {
			peer, ok := strings.CutPrefix(name, "gre-")
			if !ok {
				t.Errorf("%s: owned GRE interface %q is not named gre-PEER", h, name)
				continue
			}
			e := min(h, peer) + "-" + max(h, peer)
			ends[e] = append(ends[e], h)
		}
	}
	var got []string
	for e, hs := range ends {
		got = append(got, e)
		if len(hs) != 2 || hs[0] == hs[1] {
			t.Errorf("tunnel %s has ends on %q, want one on each of its hosts", e, hs)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("tunnels across the lab: %q, want exactly the tree %q", got, want)
	}
}

var treeTxRE = regexp.MustCompile(`\n\s*tx pkts=(\d+), bytes=(\d+),`)

// treeTx reads from ovs-vswitchd how many packets and bytes host has sent into
// its tunnel to peer.
func treeTx(t *testing.T, c *cluster, host, peer string) (pkts, bytes int64) {
	t.Helper()
	var port int
	for _, tu := range c.plan(host).OVS.Tunnels {
		if tu.Peer == peer {
			port = tu.OFPort
		}
	}
	if port == 0 {
		t.Fatalf("%s has no tunnel to %s in the plan", host, peer)
	}
	out := c.ofctl(host, "dump-ports", "br0", strconv.Itoa(port))
	m := treeTxRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("%s: no tx counter for port %d in:\n%s", host, port, out)
	}
	pkts, _ = strconv.ParseInt(m[1], 10, 64)
	bytes, _ = strconv.ParseInt(m[2], 10, 64)
	return pkts, bytes
}
