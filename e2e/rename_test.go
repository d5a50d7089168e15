package e2e

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/topology"
)

// Renaming a host at the same address and index (issue 20): each peer deletes
// the tunnel named after the old name and creates one named after the new name,
// to the same remote_ip with the same ofport_request. ovs-vswitchd refused the
// new one (it clashed with the old one, which it had not dropped yet) and no
// later pass repaired it. The lab: docker1 runs the loop, docker3 gets one-shot
// passes, docker2 is renamed web2 (its lab host keeps its name).

// renameTopology is labTopology with host 2 named second.
func renameTopology(network, second string) string {
	return strings.Replace(labTopology(network, 3), "name: docker2,", "name: "+second+",", 1)
}

// applyAs runs one pass on lab host labHost as the topology's host name.
func applyAs(c *cluster, labHost, name string, extra ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := c.host(labHost)
	argv := append([]string{ovsmeshBin, "apply", c.path, "--host", name, "--db", h.DB(),
		"--interfaces", c.dir + "/" + labHost + "/interfaces",
		"--daemon-json", c.dir + "/" + labHost + "/daemon.json"}, extra...)
	out, err := h.Command(ctx, argv...).CombinedOutput()
	return string(out), err
}

// mustApplyTwice runs two passes as name on labHost: both must succeed, the
// second must change nothing (the first converged).
func mustApplyTwice(t *testing.T, c *cluster, labHost, name string, extra ...string) string {
	t.Helper()
	first, err := applyAs(c, labHost, name, extra...)
	if err != nil {
		t.Errorf("first pass on %s as %s: %v\n%s", labHost, name, err, first)
	}
	second, err := applyAs(c, labHost, name, extra...)
	if err != nil {
		t.Errorf("second pass on %s as %s: %v\n%s", labHost, name, err, second)
	}
	if ch := idemChanges(second); len(ch) > 0 {
		t.Errorf("second pass on %s as %s changed %q: the first did not converge", labHost, name, ch)
	}
	return first
}

// renameContainer adds container 2 of the topology's host name on lab host
// labHost (see cluster.container).
func renameContainer(t *testing.T, c *cluster, labHost, name string) *lab.Container {
	t.Helper()
	s := c.plan(name)
	a := s.Docker.FixedCIDR.Addr().Next().Next()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ct, err := c.host(labHost).AddContainer(ctx, "c2"+labHost, netip.PrefixFrom(a, s.Docker.Subnet.Bits()), s.Docker.Address.Addr(), s.Docker.MTU)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// tunnelHealthy reports whether host's tunnel port has its requested ofport
// and no error.
func tunnelHealthy(c *cluster, host, port string) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := c.host(host)
	out, err := h.Run(ctx, "ovs-vsctl", "--db="+h.DB(), "--timeout=5", "--bare", "--columns=ofport,ofport_request,error",
		"find", "interface", "name="+port)
	if err != nil {
		return false, err.Error()
	}
	f := strings.Fields(out)
	return len(f) == 2 && f[0] == f[1], strings.Join(f, " ")
}

func TestRenameHostSameAddress(t *testing.T) {
	cases := []struct {
		name, network string
		converge      func(t *testing.T, c *cluster, hosts []string)
	}{
		{"gre mesh", "  encap: gre\n  mode: mesh\n", nil},
		{"vxlan mesh", "  encap: vxlan\n  mode: mesh\n", nil},
		{"gre rstp", "  encap: gre\n  mode: stp\n  rstp: true\n", func(t *testing.T, c *cluster, hosts []string) {
			stpConverge(t, c, hosts, "rstp/show", "Forwarding", "Discarding", 60*time.Second)
		}},
		{"vxlan stp", "  encap: vxlan\n  mode: stp\n", func(t *testing.T, c *cluster, hosts []string) {
			stpConverge(t, c, hosts, "stp/show", "forwarding", "blocking", 90*time.Second)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, labTopology(tc.network, 3))
			c.mustApply()
			bound := 2 * loopInterval
			if tc.converge != nil {
				tc.converge(t, c, []string{"docker1", "docker2", "docker3"})
				// A new port on a spanning tree forwards after listening and
				// learning (2 × forward_delay, 15 s each) when it cannot be
				// agreed at once.
				bound += 30 * time.Second
			}
			renameScenario(t, c, tc.network, bound)
		})
	}
}

// renameScenario renames docker2 web2 on converged cluster c and checks that
// docker1's container reaches web2's within bound.
func renameScenario(t *testing.T, c *cluster, network string, bound time.Duration) {
	ct1, ct2, ct3 := c.container("docker1", 2), c.container("docker2", 2), c.container("docker3", 2)
	ping(t, ct1, addr(ct2.Addr), 56, false)
	loop := launchLoop(t, c, "docker1", loopOpts{wait: true})
	mark := loop.mark()

	c.write(renameTopology(network, "web2"))
	written := time.Now()
	encap := c.topo.Network.Encap
	gone, renamed := topology.PortName(encap, "docker2", 2), topology.PortName(encap, "web2", 2) // web2 keeps docker2's index
	t.Cleanup(func() {
		if t.Failed() {
			vswitchdLog(t, c, "docker3", renamed)
		}
	})
	// The renamed host takes its own bridge over (its owner mark was docker2's).
	mustApplyTwice(t, c, "docker2", "web2", "--take-over")
	out := mustApplyTwice(t, c, "docker3", "docker3")
	applied := time.Now() // the loop's time runs from here (one-shot passes take a while on a busy machine)
	for _, want := range []string{"delete port " + gone, "create port " + renamed} {
		if !strings.Contains(out, want) {
			t.Errorf("docker3's first pass lacks %q:\n%s", want, out)
		}
	}
	for _, h := range []string{"docker3", "docker1"} {
		_, ok := poll(2*loopInterval+5*time.Second, func() bool { ok, _ := tunnelHealthy(c, h, renamed); return ok })
		_, got := tunnelHealthy(c, h, renamed)
		if !ok {
			t.Errorf("%s: %s has ofport ofport_request error %q, want its requested ofport and no error", h, renamed, got)
		}
		t.Logf("%s: %s healthy %v after the rename was written (ofport ofport_request: %s)", h, renamed, time.Since(written).Round(time.Millisecond), got)
	}
	_, err := pingWithin(ct1, addr(ct2.Addr), bound-time.Since(applied))
	t.Logf("docker1's container reaches web2's %v after the rename was written, %v after the one-shot passes (interval %v)",
		time.Since(written).Round(time.Millisecond), time.Since(applied).Round(time.Millisecond), loopInterval)
	if err != nil {
		t.Errorf("docker1's container does not reach web2's within %v of the one-shot passes: %v", bound, err)
	}
	ping(t, ct3, addr(ct2.Addr), 56, false)
	time.Sleep(2 * loopInterval) // passes after the rename converged
	for _, e := range loop.logs(t, mark, "reconcile step failed") {
		t.Errorf("loop on docker1: a pass failed after the rename: %s: %s", e.Step, e.Err)
	}
	if ok, got := tunnelHealthy(c, "docker1", renamed); !ok {
		t.Errorf("docker1: %s: %s", renamed, got)
	}
}

// vswitchdLog logs the lines of host's ovs-vswitchd log that mention word.
func vswitchdLog(t *testing.T, c *cluster, host, word string) {
	b, err := os.ReadFile(filepath.Join(c.host(host).RunDir, "ovs-vswitchd.log"))
	if err != nil {
		t.Log(err)
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, word) {
			t.Logf("%s ovs-vswitchd: %s", host, l)
		}
	}
}
