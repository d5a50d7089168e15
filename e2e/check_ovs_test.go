package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestCheckOVS: in a clean lab both daemons answer with their version and the
// netdev underlay sits on br-phy; moved to eth0 it is a problem; ovs-vswitchd
// and then ovsdb-server stopped are each a problem; the system datapath is
// judged by what this machine has of the openvswitch module.
func TestCheckOVS(t *testing.T) {
	c := newCluster(t, labTopology("", 2))
	out, err := c.check("docker1")
	t.Logf("clean:\n%s", out)
	if err != nil {
		t.Fatalf("clean lab: %v", err)
	}
	h := c.host("docker1")
	for _, want := range []string{
		"ok       ovs ovsdb-server: answers at unix:" + h.DBSock + " (database schema 8.",
		"): ovsdb-server (Open vSwitch) ",
		"ok       ovs ovs-vswitchd: answers: ovs-vswitchd (Open vSwitch) ",
		"ok       ovs datapath netdev: the underlay address 198.18.0.1 is on br-phy, an internal port of netdev bridge br-phy: userspace tunnelling can send through it",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("clean: lacks %q", want)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, argv := range [][]string{
		{"ip", "addr", "del", "198.18.0.1/24", "dev", "br-phy"},
		{"ip", "addr", "add", "198.18.0.1/24", "dev", "eth0"},
	} {
		if _, err := h.Run(ctx, argv...); err != nil {
			t.Fatal(err)
		}
	}
	out, err = c.check("docker1")
	t.Logf("underlay on eth0:\n%s", out)
	if exitCode(err) != 1 || !strings.Contains(out, `problem  ovs datapath netdev: the underlay address 198.18.0.1 is on eth0, a port of type "(none)" on bridge br-phy (datapath "netdev"): userspace tunnelling needs it on a netdev bridge's internal port`) {
		t.Errorf("underlay on eth0: exit %v\n%s", err, out)
	}

	if err := h.StopVSwitchd(ctx); err != nil {
		t.Fatal(err)
	}
	out, err = c.check("docker1")
	t.Logf("ovs-vswitchd stopped:\n%s", out)
	if exitCode(err) != 1 || !strings.Contains(out, "problem  ovs ovs-vswitchd: does not answer: ovs-appctl -t ovs-vswitchd version: ") ||
		!strings.Contains(out, "ok       ovs ovsdb-server") {
		t.Errorf("ovs-vswitchd stopped: exit %v\n%s", err, out)
	}
	if err := h.StopOVSDB(ctx); err != nil {
		t.Fatal(err)
	}
	out, err = c.check("docker1")
	t.Logf("ovsdb-server stopped too:\n%s", out)
	if exitCode(err) != 1 || !strings.Contains(out, "problem  ovs ovsdb-server: unix:"+h.DBSock+": does not answer") {
		t.Errorf("ovsdb-server stopped: exit %v\n%s", err, out)
	}

	checkSystemDatapath(t, c)
}

// checkSystemDatapath: with datapath system, what this machine has of the
// openvswitch module decides the verdict.
func checkSystemDatapath(t *testing.T, c *cluster) {
	c.write(strings.Replace(labTopology("", 2), "datapath: netdev", "datapath: system", 1))
	out, _ := c.check("docker1")
	t.Logf("datapath system:\n%s", out)
	want := "problem  ovs datapath system: no openvswitch kernel module"
	if _, err := os.Stat("/sys/module/openvswitch"); err == nil {
		want = "ok       ovs datapath system: the openvswitch kernel module is loaded"
	} else if exec.Command("modinfo", "openvswitch").Run() == nil {
		want = "warning  ovs datapath system: the openvswitch kernel module is not loaded, but loadable"
	}
	if !strings.Contains(out, want) {
		t.Errorf("datapath system: lacks %q", want)
	}
}
