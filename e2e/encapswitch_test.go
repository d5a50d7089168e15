package e2e

import (
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/topology"
)

// TestEncapSwitchOnePass: switching a running mesh from GRE to VXLAN and back
// replaces every tunnel by one of another name that requests the same ofport.
// ovs-vswitchd adds the new port before it releases the old one's number, so a
// pass that did both in one transaction got another ofport and failed ("got
// ofport N instead of ofport_request 3277x") until a second pass. One pass must
// converge: the one-shot passes on docker2 and docker3 succeed at once and the
// next changes nothing, the loop on docker1 never fails, and every container
// reaches the others within two intervals (mesh; under RSTP the new ports
// also go through the spanning tree).
func TestEncapSwitchOnePass(t *testing.T) {
	for _, mode := range []string{"mesh", "rstp"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			network := "  mode: mesh\n"
			if mode == "rstp" {
				network = "  mode: stp\n  rstp: true\n"
			}
			encapSwitch(t, "  encap: gre\n"+network, "  encap: vxlan\n"+network)
		})
	}
}

func encapSwitch(t *testing.T, gre, vxlan string) {
	c := newCluster(t, labTopology(gre, 3))
	c.mustApply()
	hosts := []string{"docker1", "docker2", "docker3"}
	bound := 2 * loopInterval
	if c.topo.Network.RSTP {
		stpConverge(t, c, hosts, "rstp/show", "Forwarding", "Discarding", 60*time.Second)
		bound += 30 * time.Second // new ports go through RSTP again (see TestRenameHostSameAddress)
	}
	ct1, ct2, ct3 := c.container("docker1", 2), c.container("docker2", 2), c.container("docker3", 2)
	ping(t, ct1, addr(ct2.Addr), 56, false)
	loop := launchLoop(t, c, "docker1", loopOpts{wait: true})
	for _, network := range []string{vxlan, gre} {
		mark := loop.mark()
		c.write(labTopology(network, 3))
		written := time.Now()
		mustApplyTwice(t, c, "docker2", "docker2")
		mustApplyTwice(t, c, "docker3", "docker3")
		// The loop's time runs from the end of the one-shot passes, which take
		// a while on a busy machine.
		applied := time.Now()
		encap := c.topo.Network.Encap
		for _, h := range hosts {
			for _, peer := range hosts {
				if peer == h {
					continue
				}
				port := topology.PortName(encap, peer, c.index(peer))
				if _, ok := poll(2*loopInterval, func() bool { ok, _ := tunnelHealthy(c, h, port); return ok }); !ok {
					_, got := tunnelHealthy(c, h, port)
					t.Errorf("%s: %s: ofport ofport_request error %q, want its requested ofport and no error", h, port, got)
				}
			}
		}
		for _, pair := range [][2]*lab.Container{{ct1, ct2}, {ct1, ct3}, {ct2, ct3}} {
			if _, err := pingWithin(pair[0], addr(pair[1].Addr), bound-time.Since(applied)); err != nil {
				t.Errorf("%s: %s does not reach %s within %v of the one-shot passes", encap, pair[0].Name, pair[1].Name, bound)
			}
		}
		t.Logf("%s: every pair talks %v after the switch was written, %v after the one-shot passes", encap,
			time.Since(written).Round(time.Millisecond), time.Since(applied).Round(time.Millisecond))
		time.Sleep(loopInterval) // a pass after the switch converged
		for _, e := range loop.logs(t, mark, "reconcile step failed") {
			t.Errorf("loop on docker1: a pass failed after the switch to %s: %s: %s", encap, e.Step, e.Err)
		}
	}
}
