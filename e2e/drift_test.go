package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// TestDrift proves drift repair (README, What apply does) on a 3-host GRE mesh with one
// real Docker container per host: what an operator breaks by hand in ovsmesh's objects comes
// back as planned, what the operator added next to them is left alone, and a
// host removed from the file loses its tunnels without disturbing the others.
func TestDrift(t *testing.T) {
	t.Parallel()
	network := "  encap: gre\n  mode: mesh\n"
	c := newDockerCluster(t, labTopology(network, 3))
	c.mustApply()
	hosts := []string{"docker1", "docker2", "docker3"}
	cts := c.dockerContainers()
	pingAll := func(t *testing.T, hosts ...string) {
		t.Helper()
		for _, a := range hosts {
			for _, b := range hosts {
				if a != b {
					ping(t, cts[a], addr(cts[b].Addr), 56, false)
				}
			}
		}
	}
	pingAll(t, hosts...)
	ourCookie := fmt.Sprintf("cookie=%#x", topology.FlowCookie)

	t.Run("a deleted tunnel and flow come back, foreign port and flow stay", func(t *testing.T) {
		tun := "gre-docker2"
		before := driftIface(c, "docker1", tun, false)
		// The flow as dumped, without counters (see flowTable).
		table2 := ourCookie + ", table=2, priority=1 actions=LOCAL"
		if _, ok := flowTable(t, c, "docker1")[table2]; !ok {
			t.Fatalf("docker1 has no flow %q", table2)
		}
		c.vsctl("docker1", "del-port", "br0", tun)
		c.ofctl("docker1", "--strict", "del-flows", "br0", ourCookie+"/-1,table=2,priority=1")
		c.vsctl("docker1", "add-port", "br0", "foreign0", "--", "set", "interface", "foreign0", "type=internal")
		const foreignFlow = "cookie=0x1,table=0,priority=5,udp,tp_dst=9,actions=drop"
		c.ofctl("docker1", "add-flow", "br0", foreignFlow)
		if ports := c.vsctl("docker1", "list-ports", "br0"); ports != "foreign0\ngre-docker3" {
			t.Fatalf("ports of br0 after the drift: %q", ports)
		}
		if _, ok := flowTable(t, c, "docker1")[table2]; ok {
			t.Fatalf("the flow of table 2 is still there")
		}
		foreignPort := driftIface(c, "docker1", "foreign0", true)
		foreignBefore := driftForeignFlows(t, c, "docker1")
		if len(foreignBefore) != 1 {
			t.Fatalf("foreign flows: %v", foreignBefore)
		}

		out, err := c.apply("docker1")
		if err != nil {
			t.Fatalf("apply on docker1: %v\n%s", err, out)
		}
		got := idemChanges(out)
		want := []string{
			"ovsdb: create port gre-docker2 type=gre remote_ip=198.18.0.2 local_ip=198.18.0.1 ofport_request=32770",
			"openflow: add flow table=2,priority=1,actions=LOCAL",
		}
		if !slices.Equal(got, want) {
			t.Errorf("repair on docker1 changed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !strings.Contains(out, "docker1: changed 2, matches the plan") {
			t.Errorf("repair summary missing:\n%s", out)
		}
		if after := driftIface(c, "docker1", tun, false); after != before {
			t.Errorf("tunnel %s after the repair:\n%s\nbefore the drift:\n%s", tun, after, before)
		}
		if _, ok := flowTable(t, c, "docker1")[table2]; !ok {
			t.Errorf("flow %q not back:\n%s", table2, c.ofctl("docker1", "dump-flows", "br0"))
		}
		if after := driftIface(c, "docker1", "foreign0", true); after != foreignPort {
			t.Errorf("foreign port after the repair:\n%s\nbefore:\n%s", after, foreignPort)
		}
		foreignAfter := driftForeignFlows(t, c, "docker1")
		for f, d := range foreignBefore {
			if da, ok := foreignAfter[f]; !ok || da < d {
				t.Errorf("foreign flow %q: duration %.3fs before the repair, after: %.3fs (present: %v), want it untouched", f, d, da, ok)
			}
		}
		pingAll(t, hosts...)

		// The foreign port and flow do not keep ovsmesh busy.
		if out, err := c.apply("docker1"); err != nil || len(idemChanges(out)) != 0 || !strings.Contains(out, "nothing to change") {
			t.Errorf("apply after the repair: %v\n%s", err, out)
		}
	})

	t.Run("a changed tunnel option and docker0 MTU are repaired", func(t *testing.T) {
		c.vsctl("docker1", "set", "interface", "gre-docker3", "options:remote_ip=198.18.0.99")
		ns := c.host("docker1").NS
		idemIP(t, "-n", ns, "link", "set", "docker0", "mtu", "1400")
		noPing(t, cts["docker1"], addr(cts["docker3"].Addr), 56, false)

		out, err := c.apply("docker1")
		if err != nil {
			t.Fatalf("apply on docker1: %v\n%s", err, out)
		}
		got := idemChanges(out)
		want := []string{
			"ovsdb: update interface gre-docker3 options:remote_ip 198.18.0.99 -> 198.18.0.3",
			"docker0: set docker0 mtu 1462 (was 1400)",
		}
		if !slices.Equal(got, want) {
			t.Errorf("repair on docker1 changed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if got := c.vsctl("docker1", "get", "interface", "gre-docker3", "options"); got != `{local_ip="198.18.0.1", remote_ip="198.18.0.3"}` {
			t.Errorf("gre-docker3 options: %s", got)
		}
		if got := driftMTU(t, ns, "docker0"); got != c.topo.Network.MTU {
			t.Errorf("docker0 MTU %d, want %d", got, c.topo.Network.MTU)
		}
		pingAll(t, hosts...)
		// docker0's own address answers full-size frames again.
		ping(t, cts["docker3"], c.plan("docker1").Docker.Address.Addr(), c.topo.Network.MTU-28, true)
		if out, err := c.apply("docker1"); err != nil || len(idemChanges(out)) != 0 {
			t.Errorf("apply after the repair: %v\n%s", err, out)
		}
	})

	t.Run("a host removed from the file loses its tunnels, the others keep theirs", func(t *testing.T) {
		remaining := map[string]string{"docker1": "gre-docker2", "docker2": "gre-docker1"}
		before := map[string]driftKeptState{}
		for h, tun := range remaining {
			before[h] = driftKept(t, c, h, tun)
		}

		c.write(labTopology(network, 2))
		for h := range remaining {
			out, err := c.apply(h)
			if err != nil {
				t.Fatalf("apply on %s: %v\n%s", h, err, out)
			}
			if !slices.Contains(idemChanges(out), "ovsdb: delete port gre-docker3 type=gre remote_ip=198.18.0.3 (no longer in the topology)") {
				t.Errorf("apply on %s does not delete gre-docker3:\n%s", h, out)
			}
			ports := strings.Split(c.vsctl(h, "list-ports", "br0"), "\n")
			if slices.Contains(ports, "gre-docker3") {
				t.Errorf("%s still has gre-docker3: %q", h, ports)
			}
			if h == "docker1" && !slices.Contains(ports, "foreign0") {
				t.Errorf("docker1 lost the foreign port: %q", ports)
			}
			if n := c.vsctl(h, "--columns=name", "find", "interface", "external_ids:ovsmesh-owner="+h, "type=gre"); strings.Count(n, "name") != 1 {
				t.Errorf("%s's own GRE interfaces:\n%s\nwant one", h, n)
			}
			if flows := c.ofctl(h, "dump-flows", "br0"); strings.Contains(flows, "32771") || strings.Contains(flows, "172.17.48.0/20") {
				t.Errorf("%s still has flows for docker3:\n%s", h, flows)
			}
			if after := driftKept(t, c, h, remaining[h]); after != before[h] {
				t.Errorf("%s after docker3 left:\n%+v\nbefore:\n%+v", h, after, before[h])
			}
			var dj struct {
				FixedCIDR string `json:"fixed-cidr"`
			}
			if err := json.Unmarshal([]byte(before[h].daemonJSON), &dj); err != nil || dj.FixedCIDR != c.plan(h).Docker.FixedCIDR.String() {
				t.Errorf("%s daemon.json fixed-cidr %q (%v), want %s", h, dj.FixedCIDR, err, c.plan(h).Docker.FixedCIDR)
			}
		}
		pingAll(t, "docker1", "docker2")
		noPing(t, cts["docker1"], addr(cts["docker3"].Addr), 56, false)
	})
}

// driftIface returns an interface's configuration and OpenFlow port (with its
// row's UUID when uuid is set: a re-created row has a new one).
func driftIface(c *cluster, host, name string, uuid bool) string {
	cols := []string{"type", "options", "ofport", "ofport_request", "external_ids"}
	if uuid {
		cols = append([]string{"_uuid"}, cols...)
	}
	return c.vsctl(host, append([]string{"get", "interface", name}, cols...)...)
}

// driftForeignFlows returns br0's flows with cookie 0x1 and their durations.
func driftForeignFlows(t *testing.T, c *cluster, host string) map[string]float64 {
	t.Helper()
	all := flowTable(t, c, host)
	for f := range all {
		if !strings.HasPrefix(f, "cookie=0x1,") {
			delete(all, f)
		}
	}
	return all
}

// driftMTU returns a link's MTU in namespace ns.
func driftMTU(t *testing.T, ns, link string) int {
	t.Helper()
	var links []struct {
		MTU int `json:"mtu"`
	}
	if err := json.Unmarshal([]byte(idemIP(t, "-n", ns, "-j", "link", "show", "dev", link)), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j link show %s: %v", link, err)
	}
	return links[0].MTU
}

type driftKeptState struct{ tunnel, docker0, daemonJSON string }

// driftKept returns what a host keeps when another host leaves: the tunnel to a
// remaining peer (UUID, options, ofport), docker0's addresses and daemon.json.
func driftKept(t *testing.T, c *cluster, host, tunnel string) driftKeptState {
	t.Helper()
	dj, err := os.ReadFile(idemFiles(c, host)[1])
	if err != nil {
		t.Fatal(err)
	}
	return driftKeptState{
		tunnel:     driftIface(c, host, tunnel, true),
		docker0:    idemIP(t, "-n", c.host(host).NS, "-4", "-o", "addr", "show", "dev", "docker0"),
		daemonJSON: string(dj),
	}
}
