package e2e

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"
)

// TestCheckPortClashes: after apply, ovsmesh's own VXLAN ports are no clash;
// a process bound to UDP 4789, then a kernel vxlan device on 4789 and a foreign
// OVS vxlan port on it are each reported, and check exits 1.
func TestCheckPortClashes(t *testing.T) {
	c := newCluster(t, labTopology("", 2))
	c.mustApply("docker1")
	out, err := c.check("docker1")
	t.Logf("after apply:\n%s", out)
	if err != nil || !strings.Contains(out, "ok       port vxlan udp/4789: no kernel vxlan device, UDP socket or foreign OVS tunnel port uses UDP port 4789") {
		t.Fatalf("after apply: %v\n%s", err, out)
	}

	checkSocketClash(t, c)

	h := c.host("docker1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, argv := range [][]string{
		{"ip", "link", "add", "chkvx0", "type", "vxlan", "id", "42", "dstport", "4789"},
		{"ip", "link", "set", "chkvx0", "up"},
	} {
		if _, err := h.Run(ctx, argv...); err != nil {
			t.Fatal(err)
		}
	}
	c.vsctl("docker1", "add-br", "brx", "--", "set", "bridge", "brx", "datapath_type=netdev",
		"--", "add-port", "brx", "vxf", "--", "set", "interface", "vxf", "type=vxlan", "options:remote_ip=flow")
	out, err = c.check("docker1")
	t.Logf("a kernel vxlan device and a foreign OVS port on 4789:\n%s", out)
	if exitCode(err) != 1 {
		t.Errorf("exit %v, want 1", err)
	}
	for _, want := range []string{
		"problem  port vxlan device chkvx0: a kernel vxlan device already uses UDP port 4789: it would receive the tunnels' packets",
		"fix: delete it (ip link del chkvx0) or stop what made it (flannel, Docker swarm), or set network.vxlan_port to a free port",
		"problem  port ovs port vxf on brx: a vxlan tunnel port that is not ovsmesh's, to flow: it would take the tunnels' traffic",
		"fix: delete it (ovs-vsctl del-port brx vxf)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "udp socket") || strings.Contains(out, "vx-docker2") {
		t.Errorf("reports the device's own socket or ovsmesh's own port")
	}
}

// checkSocketClash: a process bound to UDP 4789 in the host's namespace is a
// problem naming it.
func checkSocketClash(t *testing.T, c *cluster) {
	h := c.host("docker1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bind := h.Command(ctx, "python3", "-c",
		"import socket, sys, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('0.0.0.0', 4789))\nprint('bound', flush=True)\ntime.sleep(120)")
	stdout, err := bind.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := bind.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bind.Process.Kill(); _ = bind.Wait() }()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "bound\n" {
		t.Fatalf("python3 did not bind UDP 4789: %q", line)
	}
	out, err := c.check("docker1")
	t.Logf("a process on UDP 4789:\n%s", out)
	if exitCode(err) != 1 || !strings.Contains(out, "problem  port udp socket 0.0.0.0:4789: python3 (pid ") ||
		!strings.Contains(out, ") is bound to UDP port 4789") {
		t.Errorf("a process on UDP 4789: exit %v\n%s", err, out)
	}
}
