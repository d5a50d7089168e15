package e2e

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// TestDockerMACPinned: docker0 carries the MAC the plan gives it (02:42 and its
// IPv4 address), so the gateway address every container has in its neighbour
// table stays the same as containers come and go (a bridge without a set address
// takes the lowest address of its ports), and a changed address is put back by
// the next apply.
func TestDockerMACPinned(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n", 2))
	c.mustApply()
	const host = "docker1"
	s := c.plan(host)
	mac, gw := s.Docker.MAC, s.Docker.Address.Addr()
	if mac != "02:42:ac:11:00:01" {
		t.Fatalf("planned docker0 MAC %s, want 02:42:ac:11:00:01", mac)
	}
	macCheckBridge(t, c, host, mac, "after the first apply")

	ct2 := c.container(host, 2)
	macCheckGateway(t, ct2, gw, mac, "first container")
	ct3 := c.container(host, 3)
	macCheckGateway(t, ct3, gw, mac, "second container")
	macCheckBridge(t, c, host, mac, "with two containers")

	// The first container goes, as docker rm takes its veth with it.
	hostRun(t, c, host, "ip", "link", "del", ct2.HostVeth)
	macCheckBridge(t, c, host, mac, "after a container left")
	macCheckGateway(t, ct3, gw, mac, "remaining container")

	hostRun(t, c, host, "ip", "link", "set", "docker0", "address", "02:00:00:00:00:99")
	out, err := c.apply(host)
	if err != nil {
		t.Fatalf("apply on %s: %v\n%s", host, err, out)
	}
	if !strings.Contains(out, "set docker0 address "+mac+" (was 02:00:00:00:00:99)") {
		t.Errorf("apply after the address changed does not say it repaired it:\n%s", out)
	}
	macCheckBridge(t, c, host, mac, "after the repair")
	macCheckGateway(t, ct3, gw, mac, "after the repair")
	other := c.container("docker2", 2)
	ping(t, ct3, addr(other.Addr), 56, false)
}

// macCheckBridge checks docker0's address on host.
func macCheckBridge(t *testing.T, c *cluster, host, mac, when string) {
	t.Helper()
	var links []struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal([]byte(hostRun(t, c, host, "ip", "-j", "link", "show", "dev", "docker0")), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j link show docker0: %v", err)
	}
	if links[0].Address != mac {
		t.Errorf("%s: %s's docker0 has address %s, want %s", when, host, links[0].Address, mac)
	}
}

// macCheckGateway has ct forget its neighbours, ping its gateway and checks the
// gateway's MAC it learnt.
func macCheckGateway(t *testing.T, ct *lab.Container, gw netip.Addr, mac, when string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := ct.Run(ctx, "ip", "neigh", "flush", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	ping(t, ct, gw, 56, false)
	out, err := ct.Run(ctx, "ip", "-j", "neigh", "show", gw.String(), "dev", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	var neigh []struct {
		LLAddr string `json:"lladdr"`
	}
	if err := json.Unmarshal([]byte(out), &neigh); err != nil || len(neigh) != 1 {
		t.Fatalf("%s: %s's neighbour entry of %s: %q (%v)", when, ct.Name, gw, out, err)
	}
	if neigh[0].LLAddr != mac {
		t.Errorf("%s: %s sees its gateway %s at %s, want %s", when, ct.Name, gw, neigh[0].LLAddr, mac)
	}
}
