package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// dockerMesh is the topology of the real-Docker tests: a GRE mesh of n hosts.
func dockerMesh(n int) string { return labTopology("  mode: mesh\n  encap: gre\n", n) }

// TestDockerRestartKeepsGateway: Docker ran before ovsmesh (its stored bridge
// network has Docker's default gateway 172.17.0.1, docker1's address), then apply
// and one Docker restart, as the README says. Every container gets its own host's
// gateway, and keeps it through five Docker restarts in a row on one host while a
// container on another host pings it; each restart's outage is reported. Also:
// the first container of a slice gets the slice's network address, and a
// container with a random MAC (Docker 28's default) talks across the mesh.
func TestDockerRestartKeepsGateway(t *testing.T) {
	c := newDockerCluster(t, dockerMesh(3))
	c.mustApply()
	c.eachHost(func(ctx context.Context, h *lab.Host) error { return h.RestartDocker(ctx) })
	c1 := c.dockerRun("docker1", "c1")
	c2 := c.dockerRun("docker2", "c2", "--restart", "always")
	c3 := c.dockerRun("docker3", "c3", "--mac-address", "6a:1f:3c:9d:52:e7")
	for host, ct := range map[string]*lab.Container{"docker1": c1, "docker2": c2, "docker3": c3} {
		c.ownGateway(t, host, ct)
	}
	if slice := c.plan("docker2").Docker.FixedCIDR; c2.Addr.Addr() != slice.Addr() {
		t.Logf("Docker gave the first container of slice %s the address %s (not the network address)", slice, c2.Addr)
	} else {
		t.Logf("Docker gave the first container of slice %s the slice's network address %s", slice, c2.Addr)
	}
	pingAllDocker(t, c1, c2, c3)

	p := startPinger(t, c1, c2.Addr.Addr(), 20*time.Millisecond, 0)
	time.Sleep(500 * time.Millisecond)
	for i := 1; i <= 5; i++ {
		start := time.Now()
		took := c.restartDocker("docker2")
		reattach(t, c2)
		c.ownGateway(t, "docker2", c2)
		if got, want := c.bridgeAddrs("docker2"), c.plan("docker2").Docker.Address; len(got) != 1 || got[0] != want {
			t.Errorf("restart %d: docker0 on docker2 has %v, want only %v", i, got, want)
		}
		ping(t, c2, c1.Addr.Addr(), 0, false)
		ping(t, c2, c3.Addr.Addr(), 0, false)
		ping(t, c2, c2.GW, 0, false)
		out, err := c.apply("docker2")
		if err != nil || !strings.Contains(out, "nothing to change") {
			t.Errorf("restart %d: apply on docker2 after the Docker restart: %v\n%s", i, err, out)
		}
		gap := p.replies().gap(start, time.Now())
		t.Logf("Docker restart %d on docker2: dockerd restarted in %v; c1 -> c2 outage %v; c2 at %s gateway %s",
			i, took.Round(time.Millisecond), gap.Round(time.Millisecond), c2.Addr, c2.GW)
	}
}

// pingAllDocker pings every container from every other one.
func pingAllDocker(t *testing.T, cts ...*lab.Container) {
	t.Helper()
	for _, a := range cts {
		for _, b := range cts {
			if a != b {
				ping(t, a, b.Addr.Addr(), 0, false)
			}
		}
		ping(t, a, a.GW, 0, false)
	}
}

// TestDockerStartsBeforeOvsmesh: after a reboot docker0 is gone and Docker, with
// the daemon.json an earlier apply wrote, starts before ovsmesh has built it (the
// unit lets Docker start after its timeout). Docker builds docker0 itself, with
// the planned gateway; apply then adopts it and the containers talk.
func TestDockerStartsBeforeOvsmesh(t *testing.T) {
	c := newCluster(t, dockerMesh(2))
	testenv.RequireBinaries(t, lab.DockerBinaries()...)
	c.docker = true
	c.mustApply()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The reboot: the kernel's bridge is gone; OVSDB keeps br0.
	if _, err := c.host("docker2").Run(ctx, "ip", "link", "del", "docker0"); err != nil {
		t.Fatal(err)
	}
	c.eachHost(func(ctx context.Context, h *lab.Host) error { return h.StartDocker(ctx) })
	if got, want := c.bridgeAddrs("docker2"), c.plan("docker2").Docker.Address; len(got) != 1 || got[0] != want {
		t.Errorf("docker0 that Docker built on docker2 has %v, want %v", got, want)
	}
	c2 := c.dockerRun("docker2", "c2")
	c.ownGateway(t, "docker2", c2)
	c.mustApply("docker2")
	c1 := c.dockerRun("docker1", "c1")
	c.ownGateway(t, "docker1", c1)
	pingAllDocker(t, c1, c2)

	// Documented as part of the security model (docs/docker.md): a container on
	// another host reaches a port that c2 listens on without publishing it, as a
	// container on c2's own host does.
	if _, err := c.host("docker2").Docker(ctx, "exec", "-d", "c2", "sh", "-c", "echo unpublished | nc -l -p 8080"); err != nil {
		t.Fatal(err)
	}
	var out string
	var err error
	for range 20 {
		out, err = c.host("docker1").Docker(ctx, "exec", "c1", "nc", "-w", "2", c2.Addr.Addr().String(), "8080")
		if err == nil && strings.Contains(out, "unpublished") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(out, "unpublished") {
		t.Errorf("c1 on docker1 did not reach c2's unpublished port 8080 across the mesh: %q, %v", out, err)
	}
}

// TestDockerAddressPools: with default-address-pools in daemon.json, every Docker
// start deletes and recreates docker0, which detaches the OVS bridge. The loop
// sees the new docker0 in the kernel and attaches it again at once (its interval
// here is 10 minutes), and the containers are in the planned network.
func TestDockerAddressPools(t *testing.T) {
	c := newDockerCluster(t, dockerMesh(2))
	if err := os.WriteFile(c.daemonJSON("docker2"), []byte(`{"default-address-pools": [{"base": "10.201.0.0/16", "size": 24}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustApply()
	c.eachHost(func(ctx context.Context, h *lab.Host) error { return h.RestartDocker(ctx) })
	loop := launchLoop(t, c, "docker2", loopOpts{args: []string{"--interval", "10m"}, wait: true})
	c1 := c.dockerRun("docker1", "c1")
	c2 := c.dockerRun("docker2", "c2", "--restart", "always")
	c.ownGateway(t, "docker2", c2)
	pingAllDocker(t, c1, c2)
	for i := 1; i <= 2; i++ {
		ifindex := c.linkIndex("docker2", "docker0")
		start := time.Now()
		c.restartDocker("docker2")
		if c.linkIndex("docker2", "docker0") == ifindex {
			t.Logf("restart %d: Docker kept docker0 (ifindex %d)", i, ifindex)
		}
		if _, ok := poll(30*time.Second, func() bool { return c.linkMaster("docker2", "br0") == "docker0" }); !ok {
			t.Fatalf("restart %d: br0 not attached to the new docker0 within 30s", i)
		}
		t.Logf("restart %d: br0 attached to the recreated docker0 %v after the restart began (loop interval 10m)", i, time.Since(start).Round(time.Millisecond))
		reattach(t, c2)
		c.ownGateway(t, "docker2", c2)
		pingAllDocker(t, c1, c2)
	}
	loop.mustBeAlive(t)
}

// linkIndex returns the ifindex of dev on host (0 when it does not exist).
func (c *cluster) linkIndex(host, dev string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := c.host(host).Run(ctx, "cat", "/sys/class/net/"+dev+"/ifindex")
	if err != nil {
		return 0
	}
	var n int
	fmt.Sscan(out, &n)
	return n
}

// linkMaster returns the master of dev on host ("" for none).
func (c *cluster) linkMaster(host, dev string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := c.host(host).Run(ctx, "ip", "-o", "link", "show", "dev", dev)
	if err != nil {
		return ""
	}
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "master" {
			return f[i+1]
		}
	}
	return ""
}
