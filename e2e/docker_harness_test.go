package e2e

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// newDockerCluster is newCluster whose hosts run a real dockerd each, started
// before ovsmesh applies anything (as on a host that ran Docker before ovsmesh)
// and reading the daemon.json apply writes. Docker's own state (its stored
// networks) is fresh for each test.
func newDockerCluster(t testing.TB, yaml string) *cluster {
	t.Helper()
	testenv.RequireBinaries(t, lab.DockerBinaries()...)
	c := newCluster(t, yaml)
	c.docker = true
	c.eachHost(func(ctx context.Context, h *lab.Host) error { return h.StartDocker(ctx) })
	return c
}

// eachHost runs f on every host at once and fails the test on any error.
func (c *cluster) eachHost(f func(ctx context.Context, h *lab.Host) error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.lab.EachHost(ctx, func(h *lab.Host, ctx context.Context) error { return f(ctx, h) }); err != nil {
		c.t.Fatal(err)
	}
}

// dockerContainers restarts Docker on every host, as the README says to after the
// first apply, and starts one container per host, "c2<host's suffix>", checking
// that Docker gave it its host's gateway and slice.
func (c *cluster) dockerContainers() map[string]*lab.Container {
	c.t.Helper()
	c.eachHost(func(ctx context.Context, h *lab.Host) error { return h.RestartDocker(ctx) })
	cts := map[string]*lab.Container{}
	for _, h := range c.topo.Hosts {
		ct := c.dockerRun(h.Name, "c2"+strings.TrimPrefix(h.Name, "docker"))
		if t, ok := c.t.(*testing.T); ok {
			c.ownGateway(t, h.Name, ct)
		}
		cts[h.Name] = ct
	}
	return cts
}

// restartDocker restarts host's dockerd and returns how long it took.
func (c *cluster) restartDocker(host string) time.Duration {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	if err := c.host(host).RestartDocker(ctx); err != nil {
		c.t.Fatal(err)
	}
	return time.Since(start)
}

// dockerRun starts a real container on host with `docker run -d` and the extra
// arguments.
func (c *cluster) dockerRun(host, name string, args ...string) *lab.Container {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ct, err := c.host(host).RunContainer(ctx, name, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return ct
}

// reattach re-reads a container Docker restarted.
func reattach(t *testing.T, ct *lab.Container) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	for range 50 { // a restart policy starts it shortly after dockerd
		if err = ct.Reattach(ctx); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal(err)
}

// ownGateway fails the test unless ct, a container on host, has its host's
// planned gateway (Docker's view and the container's own route) and an address in
// its host's slice.
func (c *cluster) ownGateway(t *testing.T, host string, ct *lab.Container) {
	t.Helper()
	want := c.plan(host).Docker
	if ct.GW != want.Address.Addr() {
		t.Errorf("container %s on %s: Docker gave gateway %v, the plan %v", ct.Name, host, ct.GW, want.Address.Addr())
	}
	if !want.FixedCIDR.Contains(ct.Addr.Addr()) || ct.Addr.Bits() != want.Subnet.Bits() {
		t.Errorf("container %s on %s: address %v, want one in %v with prefix /%d", ct.Name, host, ct.Addr, want.FixedCIDR, want.Subnet.Bits())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := ct.Run(ctx, "ip", "route", "show", "default")
	if err != nil || !strings.Contains(out, "via "+want.Address.Addr().String()+" ") {
		t.Errorf("container %s on %s: default route %q (%v), want via %v", ct.Name, host, strings.TrimSpace(out), err, want.Address.Addr())
	}
}

// bridgeAddrs returns the IPv4 addresses on host's docker bridge.
func (c *cluster) bridgeAddrs(host string) []netip.Prefix {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := c.host(host).Run(ctx, "ip", "-4", "-o", "addr", "show", "dev", c.plan(host).Docker.Name)
	if err != nil {
		c.t.Fatal(err)
	}
	var got []netip.Prefix
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				if p, err := netip.ParsePrefix(f[i+1]); err == nil {
					got = append(got, p)
				}
			}
		}
	}
	return got
}
