package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// TestSwitchSTPToMesh: a converged 3-host RSTP mesh moves to mode mesh one host
// at a time. Each host installs the split-horizon table before OVSDB turns RSTP
// off (the controller's unit test TestSelfGuardingTableGoesFirst pins the order),
// so neither the half-switched mesh nor the switched one loops: a broadcast is
// delivered once and the tunnels stay quiet, and every pair talks at the end.
func TestSwitchSTPToMesh(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n  mode: stp\n  rstp: true\n", 3))
	c.mustApply()
	hosts := []string{"docker1", "docker2", "docker3"}
	stpConverge(t, c, hosts, "rstp/show", "Forwarding", "Discarding", 60*time.Second)
	cts := map[string]*lab.Container{}
	for _, h := range hosts {
		cts[h] = c.container(h, 2)
	}
	pingAll(t, hosts, cts)

	c.write(labTopology("  encap: gre\n  mode: mesh\n", 3))
	out, err := c.apply("docker1")
	if err != nil {
		t.Fatalf("apply on docker1: %v\n%s", err, out)
	}
	if !strings.Contains(out, "update bridge br0 rstp_enable true -> false") {
		t.Errorf("docker1's pass did not turn RSTP off:\n%s", out)
	}
	t.Run("half switched: no loop", func(t *testing.T) {
		// docker1 (mesh) sends into both tunnels; the RSTP hosts, which no longer
		// hear docker1's BPDUs, may forward it between themselves too: a copy at
		// most twice, but never a loop (docker1 delivers what it receives locally).
		broadcastNoStorm(t, c, hosts, cts, map[string][2]int{"docker2": {1, 2}, "docker3": {1, 2}})
	})
	c.mustApply("docker2", "docker3")
	for _, h := range hosts {
		if got := c.vsctl(h, "get", "bridge", "br0", "fail_mode"); got != "secure" {
			t.Errorf("%s: fail_mode %s, want secure", h, got)
		}
	}
	t.Run("switched: every pair talks, no loop", func(t *testing.T) {
		pingAll(t, hosts, cts)
		stpBroadcastOnceNoStorm(t, c, hosts, cts)
	})
}
