package e2e

import (
	"context"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// TestDockerIdentity: real Docker on two hosts; c1 (with NET_ADMIN) and c2 on
// docker1, c3 on docker2. apply on docker1 checks both of its containers in
// the table bridge ovsmesh. c1 sending with c2's MAC, then with c2's address
// (IPv4 and ARP), reaches neither c2 nor c3 (captures on both see nothing) and
// the table's counters show the drops; with the table deleted by hand (the
// control) the forged address does reach c3. With its own identity c1 talks
// to c2 and c3 before and after. Status shows the table in one line; a pass
// that cannot reach Docker leaves the table as it is. Then a container
// started under a loop is checked (newContainerChecked).
func TestDockerIdentity(t *testing.T) {
	c := newDockerCluster(t, dockerMesh(2))
	c.mustApply()
	c.eachHost(func(ctx context.Context, h *lab.Host) error { return h.RestartDocker(ctx) })
	h1 := c.host("docker1")
	c1 := c.dockerRun("docker1", "c1", "--cap-add", "NET_ADMIN")
	c2 := c.dockerRun("docker1", "c2")
	c3 := c.dockerRun("docker2", "c3")
	out, err := c.apply("docker1", withDocker(h1)...)
	t.Logf("apply on docker1 with its Docker:\n%s", out)
	if err != nil || !strings.Contains(out, "identity: create table bridge ovsmesh") ||
		!strings.Contains(out, "(container c1, 7 rules)") || !strings.Contains(out, "(container c2, 7 rules)") {
		t.Fatalf("apply: %v", err)
	}
	veth := identityVeth(t, c, "docker1", "c1")
	t.Logf("c1 %s %s on %s, c2 %s %s, c3 %s %s on docker2", c1.MAC, c1.Addr.Addr(), veth, c2.MAC, c2.Addr.Addr(), c3.MAC, c3.Addr.Addr())
	t.Logf("table bridge ovsmesh, chain of c1:\n%s", identityChain(t, c, "docker1", veth))
	pingAllDocker(t, c1, c2, c3)

	t.Run("mac", func(t *testing.T) { forgedMAC(t, c, c1, c2, c3, veth) })
	t.Run("address", func(t *testing.T) { forgedAddress(t, c, c1, c2, c3, veth) })
	pingAllDocker(t, c1, c2, c3)
	out, err = c.dockerStatus("docker1")
	line := regexp.MustCompile(`(?m)^identity: .*$`).FindString(out)
	t.Logf("status on docker1: %s", line)
	if err != nil || !strings.HasPrefix(line, "identity: table bridge ovsmesh checks 2 containers (c1, c2); frames with another's identity dropped: ") ||
		!strings.Contains(out, "drift: none, the host matches the plan") {
		t.Errorf("status: %v\n%s", err, out)
	}
	// Without Docker's API (the harness points DOCKER_HOST at no socket), a pass
	// leaves the table as it is.
	out, err = c.apply("docker1")
	if err != nil || strings.Contains(out, "identity:") || !strings.Contains(identityChain(t, c, "docker1", veth), "ether saddr != "+c1.MAC) {
		t.Errorf("apply without Docker: %v\n%s", err, out)
	}
	t.Run("new container", func(t *testing.T) { newContainerChecked(t, c, c2) })
}

// forgedMAC: c1 takes c2's MAC (ip link, with its own NET_ADMIN); its frames
// to c2 and c3 are dropped on its veth.
func forgedMAC(t *testing.T, c *cluster, c1, c2, c3 *lab.Container, veth string) {
	rule := "ether saddr != " + c1.MAC + " counter drop"
	before := identityCounters(t, c, "docker1", veth)[rule]
	filter := "ether src " + c2.MAC + " and not arp" // c2's own frames never arrive back at c2
	on2, on3 := startCapture(t, c2, filter), startCapture(t, c3, filter)
	dockerExec(t, c1, "ip", "link", "set", "eth0", "address", c2.MAC)
	noPing(t, c1, c2.Addr.Addr(), 0, false)
	noPing(t, c1, c3.Addr.Addr(), 0, false)
	got2, got3 := on2.stop(), on3.stop()
	dockerExec(t, c1, "ip", "link", "set", "eth0", "address", c1.MAC)
	after := identityCounters(t, c, "docker1", veth)[rule]
	t.Logf("c1 with c2's MAC %s: c2 received %d such frames, c3 %d; %q dropped %d packets", c2.MAC, len(got2), len(got3), rule, after-before)
	if len(got2)+len(got3) != 0 || after <= before {
		t.Errorf("c1 with c2's MAC: reached c2 %q, c3 %q; %d drops counted", got2, got3, after-before)
	}
}

// forgedAddress: c1 adds c2's address and sends from it, an ICMP echo to c3
// (with c3's MAC set by hand, so no ARP is needed) and ARP requests; both are
// dropped. The control: with the table deleted, the echo reaches c3; the next
// apply puts the table back.
func forgedAddress(t *testing.T, c *cluster, c1, c2, c3 *lab.Container, veth string) {
	ip, arp := "ip saddr != "+c1.Addr.Addr().String()+" counter drop", "arp saddr ip != "+c1.Addr.Addr().String()+" counter drop"
	before := identityCounters(t, c, "docker1", veth)
	forged := c2.Addr.Addr().String()
	dockerExec(t, c1, "ip", "addr", "add", c2.Addr.String(), "dev", "eth0")
	defer dockerExec(t, c1, "ip", "addr", "del", c2.Addr.String(), "dev", "eth0")
	idRun(t, c1, "ip", "neigh", "replace", c3.Addr.Addr().String(), "lladdr", c3.MAC, "dev", "eth0")
	defer idRun(t, c1, "ip", "neigh", "del", c3.Addr.Addr().String(), "dev", "eth0")
	// c2 captures what it receives only; c2's own answers (an ARP reply to c3's
	// question for c2's address) carry c2's MAC and are not c1's.
	filter := "src host " + forged + " and (icmp or arp) and not ether src " + c2.MAC
	send := func() (to2, to3 []string) {
		on2, on3 := startCapture(t, c2, filter), startCapture(t, c3, filter)
		pingFrom(c1, forged, c3.Addr.Addr())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = c.host("docker1").Docker(ctx, "exec", "c1", "arping", "-c", "2", "-w", "2", "-s", forged, "-I", "eth0", c3.Addr.Addr().String())
		return on2.stop(), on3.stop()
	}
	got2, got := send()
	after := identityCounters(t, c, "docker1", veth)
	t.Logf("c1 with c2's address %s: c2 received %d of its packets, c3 %d; %q dropped %d, %q %d", forged, len(got2), len(got), ip, after[ip]-before[ip], arp, after[arp]-before[arp])
	if len(got)+len(got2) != 0 || after[ip] <= before[ip] || after[arp] <= before[arp] {
		t.Errorf("c1 with c2's address: reached c2 %q, c3 %q; drops %d (ip), %d (arp)", got2, got, after[ip]-before[ip], after[arp]-before[arp])
	}
	hostRun(t, c, "docker1", "nft", "delete", "table", "bridge", "ovsmesh")
	_, got = send()
	t.Logf("control, table deleted: c3 received %d packets from c2's address, sent by c1: %q", len(got), got)
	if len(got) == 0 {
		t.Errorf("control: nothing reached c3 without the table: the drops above prove nothing")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	neigh, _ := c3.Run(ctx, "ip", "neigh", "show", forged)
	t.Logf("control: c3's neighbour entry for c2's address now: %s (c1's MAC is %s)", strings.TrimSpace(neigh), c1.MAC)
	// The forged ARP taught c3 and docker1 c1's MAC for c2's address: forget it.
	idRun(t, c3, "ip", "neigh", "flush", "all")
	hostRun(t, c, "docker1", "ip", "neigh", "flush", "dev", "docker0")
	out, err := c.apply("docker1", withDocker(c.host("docker1"))...)
	if err != nil || !strings.Contains(out, "identity: create table bridge ovsmesh") {
		t.Errorf("apply after the control: %v\n%s", err, out)
	}
}

// newContainerChecked: with a loop running (its interval 10 minutes, so only
// the link watch can trigger the pass), a container started later is checked
// as soon as its veth is on docker0, and its chain goes when it is removed.
func newContainerChecked(t *testing.T, c *cluster, c2 *lab.Container) {
	h1 := c.host("docker1")
	loop := launchLoop(t, c, "docker1", loopOpts{args: append(withDocker(h1), "--interval", "10m"), wait: true})
	start := time.Now()
	c4 := c.dockerRun("docker1", "c4", "--cap-add", "NET_ADMIN")
	started := time.Since(start)
	took := waitIdentity(t, c, "c4", true)
	t.Logf("docker run c4 took %v; its chain was there %v after docker run returned", started.Round(time.Millisecond), took.Round(time.Millisecond))
	veth := identityVeth(t, c, "docker1", "c4")
	dockerExec(t, c4, "ip", "link", "set", "eth0", "address", c2.MAC)
	noPing(t, c4, c2.Addr.Addr(), 0, false)
	if n := identityCounters(t, c, "docker1", veth)["ether saddr != "+c4.MAC+" counter drop"]; n == 0 {
		t.Errorf("c4 with c2's MAC: no drop counted")
	} else {
		t.Logf("c4 with c2's MAC: %d packets dropped on %s", n, veth)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := h1.Docker(ctx, "rm", "-f", "c4"); err != nil {
		t.Fatal(err)
	}
	t.Logf("c4 removed: its chain gone after %v", waitIdentity(t, c, "c4", false).Round(time.Millisecond))
	loop.stop(t)
}

// waitIdentity waits until the identity table on docker1 has (or no longer
// has) a chain for container name, and returns how long that took.
func waitIdentity(t *testing.T, c *cluster, name string, present bool) time.Duration {
	t.Helper()
	took, ok := poll(30*time.Second, func() bool {
		out, _ := c.host("docker1").Run(context.Background(), "nft", "list", "chain", "bridge", "ovsmesh", "prerouting")
		return strings.Contains(out, `comment "container `+name+`"`) == present
	})
	if !ok {
		t.Fatalf("container %s: chain present=%v not reached in 30s", name, present)
	}
	return took
}

// identityVeth returns the veth of a container's chain, from the base chain's
// jump (`iifname "vethX" jump from-vethX comment "container NAME"`).
func identityVeth(t *testing.T, c *cluster, host, name string) string {
	t.Helper()
	out := hostRun(t, c, host, "nft", "list", "chain", "bridge", "ovsmesh", "prerouting")
	m := regexp.MustCompile(`iifname "([^"]+)" jump \S+ comment "container ` + regexp.QuoteMeta(name) + `"`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no jump for container %s in\n%s", name, out)
	}
	return m[1]
}

// identityChain lists a veth's chain.
func identityChain(t *testing.T, c *cluster, host, veth string) string {
	t.Helper()
	return hostRun(t, c, host, "nft", "list", "chain", "bridge", "ovsmesh", "from-"+veth)
}

var countedDrop = regexp.MustCompile(`counter packets (\d+) bytes \d+ drop comment "(.*)"`)

// identityCounters returns the packets each counted rule of a veth's chain
// dropped, by the rule's text.
func identityCounters(t *testing.T, c *cluster, host, veth string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, m := range countedDrop.FindAllStringSubmatch(identityChain(t, c, host, veth), -1) {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		out[m[2]] = n
	}
	return out
}

// dockerExec runs a command inside a container, as the container (docker exec).
func dockerExec(t *testing.T, ct *lab.Container, argv ...string) {
	t.Helper()
	dockerOut(t, ct.Host, append([]string{"exec", ct.Name}, argv...)...)
}

// idRun runs a command in a container's network namespace with the host's tools.
func idRun(t *testing.T, ct *lab.Container, argv ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := ct.Run(ctx, argv...); err != nil {
		t.Fatalf("%s in %s: %v\n%s", strings.Join(argv, " "), ct.Name, err, out)
	}
}

// pingFrom sends three echo requests from src (no answer is expected).
func pingFrom(ct *lab.Container, src string, dst netip.Addr) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = ct.Run(ctx, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", "-I", src, dst.String())
}
