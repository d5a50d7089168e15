package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// rstpCostNetwork is a stp-mode triangle whose docker1-docker3 link is expensive:
// whichever bridge becomes the root, the cheap two-hop path beats the direct one
// (2 against 1000), so the one discarding port is on the docker1-docker3 link.
const rstpCostNetwork = "  encap: gre\n  mode: stp\n  rstp: true\n"

var rstpCostLinks = []string{
	"{a: docker1, b: docker2, cost: 1}",
	"{a: docker2, b: docker3, cost: 1}",
	"{a: docker1, b: docker3, cost: 1000}",
}

// TestRSTPPathCost: under RSTP the link costs of the file reach the bridge
// (other_config:rstp-path-cost, the key RSTP reads; 802.1D's stp-path-cost is
// not left behind), so RSTP blocks the expensive link, not the one between
// whichever two bridges lost the root election.
func TestRSTPPathCost(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology(rstpCostNetwork, 3, rstpCostLinks...))
	c.mustApply()
	hosts := []string{"docker1", "docker2", "docker3"}

	for _, h := range hosts {
		for _, tu := range c.plan(h).OVS.Tunnels {
			got := c.vsctl(h, "get", "port", tu.Name, "other_config")
			want := fmt.Sprintf(`{rstp-path-cost="%d"}`, tu.STPCost)
			if got != want {
				t.Errorf("%s: port %s other_config %s, want %s", h, tu.Name, got, want)
			}
		}
	}

	conv := stpConverge(t, c, hosts, "rstp/show", "Forwarding", "Discarding", 60*time.Second)
	for _, h := range hosts {
		costs := rstpCosts(conv[h].Text)
		for _, tu := range c.plan(h).OVS.Tunnels {
			id := strings.Trim(c.vsctl(h, "get", "port", tu.Name, "rstp_status:rstp_port_id"), `"`)
			n, err := strconv.ParseUint(id, 16, 16)
			if err != nil {
				t.Fatalf("%s: port %s rstp_port_id %q: %v", h, tu.Name, id, err)
			}
			nbr := fmt.Sprintf("%d.%d", n>>8, n&0xff)
			if got := costs[nbr]; got != fmt.Sprint(tu.STPCost) {
				t.Errorf("%s: ovs-appctl rstp/show gives port %s (%s) cost %q, want %d:\n%s", h, tu.Name, nbr, got, tu.STPCost, conv[h].Text)
			}
		}
	}
	var blocked []string
	for _, h := range hosts {
		for _, tu := range c.plan(h).OVS.Tunnels {
			st := c.vsctl(h, "get", "port", tu.Name, "rstp_status:rstp_port_state")
			if strings.Trim(st, `"`) == "Discarding" {
				blocked = append(blocked, h+":"+tu.Name)
			}
		}
	}
	t.Logf("discarding: %q", blocked)
	if len(blocked) != 1 || (blocked[0] != "docker1:gre-docker3" && blocked[0] != "docker3:gre-docker1") {
		t.Errorf("discarding ports %q, want one, on the cost-1000 link docker1-docker3", blocked)
	}
}

// rstpCosts reads the Cost column of `ovs-appctl rstp/show` by its Pri.Nbr
// column ("128.1", the port's RSTP priority and number): the Interface column is
// cut to 10 characters, too short to tell the tunnels apart.
func rstpCosts(show string) map[string]string {
	costs := map[string]string{}
	for _, line := range strings.Split(show, "\n") {
		if f := strings.Fields(line); len(f) == 5 && strings.Contains(f[4], ".") {
			costs[f[4]] = f[3]
		}
	}
	return costs
}

// TestRSTPRemoveRoot: in a three-host RSTP triangle, the host of the root bridge
// leaves the file; the other two apply it and must talk again within seconds.
// OVS 3.1 keeps a stale root port when that port is deleted, which without
// ovsmesh's role reselection cut the two apart for good.
func TestRSTPRemoveRoot(t *testing.T) {
	t.Parallel()
	removeRoot(t, "  encap: gre\n  mode: stp\n  rstp: true\n", "rstp/show", "Forwarding", "Discarding", 6*time.Second, 20*time.Second)
}

// TestSTPRemoveRoot is TestRSTPRemoveRoot under 802.1D STP, whose timers allow
// up to 50 s (max age, then listening and learning).
func TestSTPRemoveRoot(t *testing.T) {
	t.Parallel()
	removeRoot(t, "  encap: gre\n  mode: stp\n", "stp/show", "forwarding", "blocking", 50*time.Second, 70*time.Second)
}

// removeRoot converges a triangle, finds the root bridge, removes its host from
// the file, applies on the two others and polls pings between their containers
// (up to poll) from the start of the first apply. It logs the measured outage and
// fails only when the pings never come back within poll, or the recovery took
// longer than promise (an upper bound measured with a one-second poll).
func removeRoot(t *testing.T, network, show, fwd, block string, promise, poll time.Duration) {
	c := newCluster(t, labTopology(network, 3))
	c.mustApply()
	hosts := []string{"docker1", "docker2", "docker3"}
	conv := stpConverge(t, c, hosts, show, fwd, block, 90*time.Second)
	var root string
	var rest []string
	for _, h := range hosts {
		if conv[h].Root {
			root = h
		} else {
			rest = append(rest, h)
		}
	}
	if root == "" || len(rest) != 2 {
		t.Fatalf("no single root bridge: %v", conv)
	}
	t.Logf("root bridge on %s; removing it from the file of %q", root, rest)
	cts := map[string]*lab.Container{}
	for _, h := range rest {
		cts[h] = c.container(h, 2)
	}
	ping(t, cts[rest[0]], addr(cts[rest[1]].Addr), 56, false)
	if t.Failed() {
		t.FailNow()
	}

	c.write(removeHost(labTopology(network, 3), root))
	start := time.Now()
	for _, h := range rest {
		out, err := c.apply(h)
		if err != nil {
			t.Fatalf("apply on %s: %v\n%s", h, err, out)
		}
		t.Logf("apply on %s (%v after the first began):\n%s", h, time.Since(start).Round(time.Millisecond), out)
	}
	applied := time.Since(start)
	took, ok := pingAgain(cts[rest[0]], cts[rest[1]], start, poll)
	for _, h := range rest {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, _ := c.host(h).Run(ctx, "ovs-appctl", show, "br0")
		cancel()
		t.Logf("%s: ovs-appctl %s br0:\n%s", h, show, out)
	}
	if !ok {
		t.Fatalf("%s and %s never talked again within %v of the applies (applies took %v)", rest[0], rest[1], poll, applied.Round(time.Millisecond))
	}
	t.Logf("%s and %s talk again %v after the first apply began (the applies took %v)", rest[0], rest[1], took.Round(100*time.Millisecond), applied.Round(time.Millisecond))
	if took > promise {
		t.Errorf("recovery took %v, want within %v", took.Round(100*time.Millisecond), promise)
	}
}

// pingAgain pings b from a, one ping a second (each waits up to 1 s), until one
// answers or poll has passed since start; it returns the time from start to the
// answer.
func pingAgain(a, b *lab.Container, start time.Time, poll time.Duration) (time.Duration, bool) {
	for time.Since(start) < poll {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := a.Run(ctx, "ping", "-n", "-c", "1", "-W", "1", addr(b.Addr).String())
		cancel()
		if err == nil {
			return time.Since(start), true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0, false
}

// removeHost drops the hosts line of name from a labTopology file.
func removeHost(yaml, name string) string {
	var keep []string
	for _, line := range strings.Split(yaml, "\n") {
		if !strings.Contains(line, "name: "+name+",") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
