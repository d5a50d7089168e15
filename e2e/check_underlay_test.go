package e2e

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// check runs `ovsmesh check` for host inside its namespace.
func (c *cluster) check(host string, extra ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	argv := append([]string{ovsmeshBin, "check", c.path, "--host", host,
		"--daemon-json", filepath.Join(c.dir, host, "daemon.json")}, extra...)
	out, err := c.host(host).Command(ctx, argv...).CombinedOutput()
	return string(out), err
}

// TestCheckUnderlay: a clean lab checks all ok, every item but Docker's (not
// running: a warning); a 1400-byte switch port toward
// docker3 and a peer with no underlay at all are both reported, distinctly.
func TestCheckUnderlay(t *testing.T) {
	c := newCluster(t, labTopology("", 3))
	out, err := c.check("docker1")
	t.Logf("clean:\n%s", out)
	if err != nil || !strings.Contains(out, "docker1: 13 ok, 1 warnings, 0 problems") {
		t.Fatalf("clean lab: %v\n%s", err, out)
	}
	for _, want := range []string{
		"ok       underlay docker2 (198.18.0.2)",
		"ok       underlay docker3 (198.18.0.3)",
		"ok       address routes: ",
		"ok       address interfaces: ",
		"ok       address daemon.json ",
		"ok       port vxlan udp/4789: ",
		"ok       ovs ovsdb-server: ",
		"ok       ovs ovs-vswitchd: ",
		"ok       ovs datapath netdev: ",
		"ok       firewall nftables: ",
		"ok       arp eth0 (a port of br-phy): arp_ignore is 1 (all 1, eth0 0)",
		"warning  docker network on docker0: Docker not reachable at unix://",
		"ok       docker icc: ",
		"ok       docker default-address-pools: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("clean lab: lacks %q", want)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h3 := c.host("docker3")
	if b, err := exec.CommandContext(ctx, "ip", "-n", c.lab.UnderlayNS, "link", "set", h3.UlPeer(), "mtu", "1400").CombinedOutput(); err != nil {
		t.Fatalf("set docker3's switch port mtu: %v\n%s", err, b)
	}
	// docker4 is in the file, not in the lab: nothing answers at its address.
	c.write(labTopology("", 3) + "  - {name: docker4, address: 198.18.0.9, index: 4}\n")
	out, err = c.check("docker1")
	t.Logf("mtu 1400 toward docker3, docker4 absent:\n%s", out)
	if exitCode(err) != 1 {
		t.Errorf("exit %v, want 1", err)
	}
	for _, want := range []string{
		"ok       underlay docker2 (198.18.0.2)",
		"problem  underlay docker3 (198.18.0.3): the largest packet with DF set that crosses is 1400 bytes; the plan needs 1500",
		"set network.underlay_mtu: 1400 (overlay mtu 1350)",
		"problem  underlay docker4 (198.18.0.9): no answer to ping",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// exitCode is a command's exit status: 0 for no error, -1 when it did not exit
// with a status (it did not start, or a signal killed it).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
