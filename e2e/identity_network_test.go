package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// TestDockerIdentityNetwork: TestDockerIdentity on a Docker network of the
// topology instead of docker0. c1 (with NET_ADMIN) and c2 run on network app
// of docker1, c3 on app of docker2. apply on docker1 checks both of its
// containers, each chain on a veth of app's bridge. c1 sending with c2's MAC,
// then with c2's address (IPv4 and ARP), reaches neither c2 nor c3 and the
// table's counters show the drops (with the table deleted, the control, the
// forged address does reach c3). With its own identity c1 talks to c2 and c3
// before and after. Then status's lines for the networks (networksStatus).
func TestDockerIdentityNetwork(t *testing.T) {
	c := newDockerCluster(t, composeNetworks(2))
	for _, h := range []string{"docker1", "docker2"} {
		// The first apply's docker step asks for a Docker restart (an error).
		if out, _ := c.apply(h, withDocker(c.host(h))...); !strings.Contains(out, `create Docker network "app"`) {
			t.Fatalf("first apply on %s made no network:\n%s", h, out)
		}
	}
	c.eachHost(func(ctx context.Context, h *lab.Host) error { return h.RestartDocker(ctx) })
	for _, h := range []string{"docker1", "docker2"} {
		if out, err := c.apply(h, withDocker(c.host(h))...); err != nil {
			t.Fatalf("apply on %s after the Docker restart: %v\n%s", h, err, out)
		}
	}
	c1 := c.dockerRun("docker1", "c1", "--network", "app", "--cap-add", "NET_ADMIN")
	c2 := c.dockerRun("docker1", "c2", "--network", "app")
	c3 := c.dockerRun("docker2", "c3", "--network", "app")
	out, err := c.apply("docker1", withDocker(c.host("docker1"))...)
	t.Logf("apply on docker1 with its Docker:\n%s", out)
	if err != nil || !strings.Contains(out, "(container c1, 7 rules)") || !strings.Contains(out, "(container c2, 7 rules)") {
		t.Fatalf("apply: %v", err)
	}
	bridge := networkBridge(t, c, "docker1", "app")
	veth := identityVeth(t, c, "docker1", "c1")
	for _, name := range []string{"c1", "c2"} {
		v := identityVeth(t, c, "docker1", name)
		link := hostRun(t, c, "docker1", "ip", "-o", "link", "show", "dev", v)
		master := regexp.MustCompile(` master \S+`).FindString(link)
		t.Logf("container %s: chain from-%s, the veth's%s", name, v, master)
		if master != " master "+bridge {
			t.Errorf("container %s: its chain's veth %s is not a port of network app's bridge %s: %s", name, v, bridge, link)
		}
	}
	t.Logf("network app on docker1: bridge %s; c1 %s %s on %s, c2 %s %s, c3 %s %s on docker2",
		bridge, c1.MAC, c1.Addr.Addr(), veth, c2.MAC, c2.Addr.Addr(), c3.MAC, c3.Addr.Addr())
	t.Logf("table bridge ovsmesh, chain of c1:\n%s", identityChain(t, c, "docker1", veth))
	pingAllDocker(t, c1, c2, c3)

	t.Run("mac", func(t *testing.T) { forgedMAC(t, c, c1, c2, c3, veth) })
	t.Run("address", func(t *testing.T) { forgedAddress(t, c, c1, c2, c3, veth) })
	// forgedAddress's control (the table deleted) taught docker1 c1's MAC for
	// c2's address on the network's bridge (it forgets docker0's only).
	hostRun(t, c, "docker1", "ip", "neigh", "flush", "dev", bridge)
	pingAllDocker(t, c1, c2, c3)
	out, err = c.dockerStatus("docker1")
	t.Logf("status on docker1:\n%s", out)
	if err != nil || !strings.Contains(out, "\nidentity: table bridge ovsmesh checks 2 containers (c1, c2); frames with another's identity dropped: ") {
		t.Errorf("status: %v", err)
	}
	t.Run("status", func(t *testing.T) { networksStatus(t, c, out) })
}

// networksStatus: status shows one line per network of the topology, Docker's
// network ours; with network other removed by hand, missing; made again by
// hand (without ovsmesh's label), exists.
func networksStatus(t *testing.T, c *cluster, out string) {
	line := regexp.MustCompile(`(?m)^network other: .*$`)
	t.Logf("status on docker1, networks:\n%s", strings.Join(regexp.MustCompile(`(?m)^network .*$`).FindAllString(out, -1), "\n"))
	if !strings.Contains(out, "\nnetwork app: bridge om-app; Docker: ours\nnetwork other: bridge om-other; Docker: ours\n") {
		t.Errorf("status: no line for each network, Docker's network ours")
	}
	dockerOut(t, c.host("docker1"), "network", "rm", "other")
	out, _ = c.dockerStatus("docker1")
	t.Logf("after docker network rm other: %s", line.FindString(out))
	if line.FindString(out) != "network other: bridge om-other; Docker: missing" {
		t.Errorf("network other removed:\n%s", out)
	}
	dockerOut(t, c.host("docker1"), "network", "create", "other")
	out, _ = c.dockerStatus("docker1")
	t.Logf("after docker network create other: %s", line.FindString(out))
	if line.FindString(out) != "network other: bridge om-other; Docker: exists" {
		t.Errorf("network other made by hand:\n%s", out)
	}
}

// networkBridge is the Linux bridge of a network of the topology on host, as
// planned.
func networkBridge(t *testing.T, c *cluster, host, network string) string {
	t.Helper()
	for _, n := range c.plan(host).Networks {
		if n.Name == network {
			return n.Bridge
		}
	}
	t.Fatalf("no network %s in the plan of %s", network, host)
	return ""
}
