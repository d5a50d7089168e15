package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/internal/testenv"
	"github.com/ovsmesh/ovsmesh/topology"
)

// ovsmeshBin is the ovsmesh binary under test, built once by TestMain.
var ovsmeshBin string

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "ovsmesh-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		ovsmeshBin = filepath.Join(dir, "ovsmesh")
		// No test reads this machine's own Docker: those that start a lab
		// host's Docker pass --docker-host (commands inherit this).
		os.Setenv("DOCKER_HOST", "unix://"+filepath.Join(dir, "no-docker.sock"))
		build := exec.Command("go", "build", "-o", ovsmeshBin, "../cmd/ovsmesh")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build ovsmesh: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// cluster is a lab whose hosts are those of a topology file.
type cluster struct {
	t    testing.TB
	lab  *lab.Lab
	dir  string // per-host files: <dir>/<host>/interfaces, daemon.json
	path string // the topology file
	topo *topology.Topology
	// docker: every host runs a real dockerd (newDockerCluster), which reads the
	// daemon.json apply writes.
	docker bool
}

// newCluster writes the topology, builds a lab with its hosts (underlay address
// from the file, /24) and registers the teardown.
func newCluster(t testing.TB, yaml string) *cluster {
	t.Helper()
	testenv.SkipShort(t, "root and the lab (an end-to-end test)")
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir, path: filepath.Join(dir, "topology.yaml")}
	c.write(yaml)
	var specs []lab.HostSpec
	for _, h := range c.topo.Hosts {
		specs = append(specs, lab.HostSpec{Name: h.Name, Underlay: netip.PrefixFrom(h.Address, 24)})
		if err := os.MkdirAll(filepath.Join(dir, h.Name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c.lab = lab.NewT(t, specs...)
	return c
}

// write replaces the topology file (it must be valid).
func (c *cluster) write(yaml string) {
	c.t.Helper()
	if err := os.WriteFile(c.path, []byte(yaml), 0o644); err != nil {
		c.t.Fatal(err)
	}
	topo, err := topology.Load(c.path)
	if err != nil {
		c.t.Fatalf("test topology: %v", err)
	}
	c.topo = topo
}

// daemonJSON is the daemon.json apply writes for host: with real Docker, the
// one its dockerd reads.
func (c *cluster) daemonJSON(host string) string {
	if c.docker {
		return c.host(host).DaemonJSON()
	}
	return filepath.Join(c.dir, host, "daemon.json")
}

// index returns the index of host name in the current topology.
func (c *cluster) index(name string) int {
	c.t.Helper()
	for _, h := range c.topo.Hosts {
		if h.Name == name {
			return h.Index
		}
	}
	c.t.Fatalf("no host %q in the topology", name)
	return 0
}

func (c *cluster) host(name string) *lab.Host {
	h := c.lab.Host(name)
	if h == nil {
		c.t.Fatalf("no host %q in the lab", name)
	}
	return h
}

// applyCmd returns `ovsmesh apply` for host, run inside its namespace with its
// OVS_RUNDIR, its own database and its own copies of the two files.
func (c *cluster) applyCmd(ctx context.Context, host string, extra ...string) *exec.Cmd {
	return c.host(host).Command(ctx, c.applyArgv(host, extra...)...)
}

// applyArgv is applyCmd's command line.
func (c *cluster) applyArgv(host string, extra ...string) []string {
	return append([]string{ovsmeshBin, "apply", c.path, "--host", host, "--db", c.host(host).DB(),
		"--interfaces", filepath.Join(c.dir, host, "interfaces"),
		"--daemon-json", c.daemonJSON(host)}, extra...)
}

// apply runs one pass on host and returns its output and error.
func (c *cluster) apply(host string, extra ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := c.applyCmd(ctx, host, extra...).CombinedOutput()
	return string(out), err
}

// mustApply applies on every named host (all hosts if none) and fails the test
// unless each pass succeeds.
func (c *cluster) mustApply(hosts ...string) {
	c.t.Helper()
	if len(hosts) == 0 {
		for _, h := range c.topo.Hosts {
			hosts = append(hosts, h.Name)
		}
	}
	for _, h := range hosts {
		out, err := c.apply(h)
		if err != nil {
			c.t.Fatalf("apply on %s: %v\n%s", h, err, out)
		}
		c.t.Logf("apply on %s:\n%s", h, out)
	}
}

// plan returns the desired state of a host under the current topology.
func (c *cluster) plan(host string) topology.HostState {
	c.t.Helper()
	s, err := c.topo.Desired(host)
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

// container adds container n (n ≥ 2) of host: the n-th address of the host's
// slice, the subnet's prefix, default route via docker0, the overlay MTU.
func (c *cluster) container(host string, n int) *lab.Container {
	c.t.Helper()
	s := c.plan(host)
	addr := s.Docker.FixedCIDR.Addr()
	for range n {
		addr = addr.Next()
	}
	name := fmt.Sprintf("c%d%s", n, strings.TrimPrefix(host, "docker"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ct, err := c.host(host).AddContainer(ctx, name, netip.PrefixFrom(addr, s.Docker.Subnet.Bits()), s.Docker.Address.Addr(), s.Docker.MTU)
	if err != nil {
		c.t.Fatal(err)
	}
	return ct
}

// hostRun runs argv in host's namespace and returns its output without the
// surrounding white space; it fails the test on error.
func hostRun(t testing.TB, c *cluster, host string, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := c.host(host).Run(ctx, argv...)
	if err != nil {
		t.Fatalf("%s on %s: %v\n%s", strings.Join(argv, " "), host, err, out)
	}
	return strings.TrimSpace(out)
}

// vsctl runs ovs-vsctl against host's database.
func (c *cluster) vsctl(host string, args ...string) string {
	c.t.Helper()
	h := c.host(host)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := h.Run(ctx, append([]string{"ovs-vsctl", "--db=" + h.DB(), "--timeout=10"}, args...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// ofctl runs ovs-ofctl on host's bridge.
func (c *cluster) ofctl(host string, args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := c.host(host).Run(ctx, append([]string{"ovs-ofctl", "-O", "OpenFlow14", "--timeout=10"}, args...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// ping pings dst from ct and fails the test unless the reply comes (a few tries:
// the first packets may wait for ARP or for STP to forward).
func ping(t *testing.T, ct *lab.Container, dst netip.Addr, size int, df bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var err error
	for try := 0; try < 3; try++ {
		if err = ct.Ping(ctx, dst, size, df); err == nil {
			return
		}
	}
	t.Errorf("%s -> %s (size %d, df %v): %v", ct.Name, dst, size, df, err)
}

// pingAll pings each host's container from every other host's and fails the
// test unless each answers (see ping).
func pingAll(t *testing.T, hosts []string, cts map[string]*lab.Container) {
	t.Helper()
	for _, a := range hosts {
		for _, b := range hosts {
			if a != b {
				ping(t, cts[a], addr(cts[b].Addr), 56, false)
			}
		}
	}
}

// noPing fails the test if ct gets a reply from dst.
func noPing(t *testing.T, ct *lab.Container, dst netip.Addr, size int, df bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ct.Ping(ctx, dst, size, df); err == nil {
		t.Errorf("%s -> %s (size %d, df %v) answered, want no answer", ct.Name, dst, size, df)
	}
}

func addr(p netip.Prefix) netip.Addr { return p.Addr() }

// labTopology is a topology for the lab: hosts docker1..n at 198.18.0.i.
func labTopology(network string, n int, links ...string) string {
	var b strings.Builder
	b.WriteString("network:\n  datapath: netdev\n  subnet: 172.17.0.0/16\n  slice_prefix: 20\n")
	b.WriteString(network)
	b.WriteString("hosts:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - {name: docker%d, address: 198.18.0.%d, index: %d}\n", i, i, i)
	}
	if len(links) > 0 {
		b.WriteString("links:\n")
		for _, l := range links {
			fmt.Fprintf(&b, "  - %s\n", l)
		}
	}
	return b.String()
}
