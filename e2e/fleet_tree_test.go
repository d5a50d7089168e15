package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// fleetTreeNetwork seeds a tree-mode fleet without links: the tree is the star
// around the member with the lowest index.
const fleetTreeNetwork = `network:
  encap: gre
  mode: tree
  datapath: netdev
  subnet: 172.17.0.0/16
  slice_prefix: 20
`

// TestFleetTreeCentreDies: in a four-host tree fleet the centre of the star
// (docker1, index 1) dies hard: its ovsmesh gets SIGKILL and its OVS stops. It
// leaves the other views after its lease and the grace, the three others are
// re-treed as the star around docker2 and their containers ping.
func TestFleetTreeCentreDies(t *testing.T) {
	f := newFleetLab(t, fleetTreeNetwork)
	names := []string{"docker1", "docker2", "docker3", "docker4"}
	loops := map[string]*loopProc{}
	for _, h := range names {
		loops[h] = launchLoop(t, f.cluster, h, loopOpts{fleet: f, args: []string{"--lease-ttl", fleetTTL}, wait: true})
	}
	f.waitTree(t, names, "docker1-docker2", "docker1-docker3", "docker1-docker4")
	rest := names[1:]
	cts := f.containers(t, rest)
	f.pingAll(t, cts)

	died := time.Now()
	if err := loops["docker1"].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-loops["docker1"].done
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.host("docker1").StopVSwitchd(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.host("docker1").StopOVSDB(ctx); err != nil {
		t.Fatal(err)
	}
	took := f.waitTree(t, rest, "docker2-docker3", "docker2-docker4")
	t.Logf("docker1 (the centre) killed: out of every plan and the rest re-treed around docker2 after %v (lease TTL %s + grace 3s); %v of that waiting for the new tree",
		time.Since(died).Round(time.Millisecond), fleetTTL, took.Round(time.Millisecond))
	f.pingAll(t, cts)
}

// waitTree waits until every host of hosts has exactly hosts in its saved view
// and the GRE tunnels owned across hosts are exactly the edges want
// ("dockerA-dockerB", sorted); it returns how long that took.
func (f *fleetLab) waitTree(t *testing.T, hosts []string, want ...string) time.Duration {
	t.Helper()
	var got []string
	took, ok := poll(60*time.Second, func() bool {
		for _, h := range hosts {
			if v := f.viewHosts(h); v == nil || len(v.Hosts) != len(hosts) {
				return false
			}
		}
		got = f.treeEdges(hosts)
		return slices.Equal(got, want)
	})
	if !ok {
		for _, h := range hosts {
			t.Logf("%s's view: %v", h, f.viewHosts(h))
		}
		t.Fatalf("tree of %v: edges %q, want %q within 60s", hosts, got, want)
	}
	return took
}

// treeEdges lists the edges whose tunnel exists at both ends among hosts, and
// marks an edge with one end only as "A-B?".
func (f *fleetLab) treeEdges(hosts []string) []string {
	ends := map[string]int{}
	for _, h := range hosts {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := f.host(h).Run(ctx, "ovs-vsctl", "--db="+f.host(h).DB(), "--timeout=5", "--format=csv", "--data=bare",
			"--no-headings", "--columns=name", "find", "interface", "external_ids:ovsmesh-owner="+h, "type=gre")
		cancel()
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		for _, name := range strings.Fields(out) {
			peer := strings.TrimPrefix(name, "gre-")
			ends[min(h, peer)+"-"+max(h, peer)]++
		}
	}
	var edges []string
	for e, n := range ends {
		if n != 2 {
			e += "?"
		}
		edges = append(edges, e)
	}
	slices.Sort(edges)
	return edges
}
