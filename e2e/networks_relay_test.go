package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// TestNetworkRelayFailover: in a mesh with bfd: true, containers on a Docker
// network of the topology keep talking when the underlay path between their
// hosts is cut: docker3 relays their frames, in the network's own pipeline and
// with the network's key. docker0's relay flow counts none of them: what it
// counts meanwhile is the hosts' own traffic on docker0 (one stray packet was
// counted once in CI), far less than app's.
func TestNetworkRelayFailover(t *testing.T) {
	yaml := labTopology("  encap: gre\n  bfd: true\n", 3) + "networks:\n  - {name: app, subnet: 10.20.0.0/16, key: 3}\n"
	c := newDockerCluster(t, yaml)
	r := &relayLab{cluster: c, under: map[string]netip.Addr{}}
	for _, h := range c.topo.Hosts {
		r.under[h.Name] = h.Address
		if out, err := c.apply(h.Name, withDocker(c.host(h.Name))...); !strings.Contains(out, "attach ov-app to om-app") {
			t.Fatalf("apply on %s made no network (%v):\n%s", h.Name, err, out)
		}
	}
	r.waitAllBFD()
	for _, h := range c.topo.Hosts { // the pass the loop runs once the sessions are up
		if out, err := c.apply(h.Name, withDocker(c.host(h.Name))...); strings.Contains(out, "networks:") {
			t.Fatalf("apply on %s changed networks (%v):\n%s", h.Name, err, out)
		}
	}
	a1 := c.dockerRun("docker1", "a1", "--network", "app")
	a2 := c.dockerRun("docker2", "a2", "--network", "app")
	ping(t, a1, a2.Addr.Addr(), 0, false)

	key := c.plan("docker3").Networks[0].TunnelKey
	relayTable := 16 + topology.TableFromTunnel // app is the first network: tables 16 to 26
	appRelayed := func() int {
		return flowPackets(t, c.ofctl("docker3", "dump-flows", "br0", fmt.Sprintf("table=%d,tun_id=%#x", relayTable, key|0x800002)))
	}
	before, docker0Before := appRelayed(), r.relayed()
	p := startPinger(t, a1, a2.Addr.Addr(), 10*time.Millisecond, 0)
	time.Sleep(time.Second)
	at := time.Now()
	restore := r.cut("docker1", "docker2")
	deadline := at.Add(20 * time.Second)
	for !p.replies().after(at.Add(200 * time.Millisecond)) {
		if time.Now().After(deadline) {
			restore()
			t.Fatal("no reply in the 20 s after cutting docker1-docker2")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second)
	relayed, docker0Relayed := appRelayed()-before, r.relayed()-docker0Before
	back := time.Now()
	restore()
	l := p.stop()
	t.Logf("check: a1 (docker1) -> a2 (docker2) on network app with docker1-docker2 cut: outage %v; docker3 relayed %d packets in app's pipeline (tun_id %#x), %d in docker0's",
		l.gap(at, back).Round(time.Millisecond), relayed, key|0x800002, docker0Relayed)
	if relayed <= 0 || docker0Relayed > relayed/10 {
		t.Errorf("docker3 relayed %d packets for app and %d for docker0, want some and at most a tenth of those (stray frames of the hosts')", relayed, docker0Relayed)
	}
	if l.dups != 0 {
		t.Errorf("%d duplicate replies, want none", l.dups)
	}
}

// TestNetworkTree: in tree mode (a star around docker1), containers of a network
// on the two leaves talk through the centre, which relays them in the network's
// pipeline; a docker0 container on a leaf does not reach them.
func TestNetworkTree(t *testing.T) {
	yaml := labTopology("  encap: vxlan\n  mode: tree\n", 3) + "networks:\n  - {name: app, subnet: 10.20.0.0/16}\n"
	c := newDockerCluster(t, yaml)
	for _, h := range c.topo.Hosts {
		if out, err := c.apply(h.Name, withDocker(c.host(h.Name))...); !strings.Contains(out, "attach ov-app to om-app") {
			t.Fatalf("apply on %s made no network (%v):\n%s", h.Name, err, out)
		}
	}
	a2 := c.dockerRun("docker2", "a2", "--network", "app")
	a3 := c.dockerRun("docker3", "a3", "--network", "app")
	key := c.plan("docker1").Networks[0].TunnelKey
	dump := func() int {
		return flowPackets(t, c.ofctl("docker1", "dump-flows", "br0", fmt.Sprintf("table=0,tun_id=%#x", key)))
	}
	before := dump()
	ping(t, a2, a3.Addr.Addr(), 0, false)
	ping(t, a3, a2.Addr.Addr(), 0, false)
	through := dump() - before
	t.Logf("check: a2 (docker2) <-> a3 (docker3) on network app through docker1: answered; docker1 dispatched %d frames with app's key %#x",
		through, key)
	if through <= 0 {
		t.Errorf("docker1 dispatched no frame with app's key")
	}
	p2 := c.dockerRun("docker2", "p2") // docker0
	noPing(t, p2, a3.Addr.Addr(), 0, false)
	t.Logf("check: p2 on docker0 of docker2 -> a3 (docker3, network app): no answer")
}
