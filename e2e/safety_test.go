package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestRefuseForeignBridge: a bridge ovsmesh did not build is never taken over
// without --take-over, and an interface that carries addresses is never enslaved
// into docker0 even with it. The lab's own uplink bridge br-phy (holding eth0
// and the host's underlay address) is exactly the bridge an operator's br0 often
// is: a topology naming it is refused with its ports and addresses, and nothing
// on the host changes.
func TestRefuseForeignBridge(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n  bridge: br-phy\n", 2))
	const host = "docker1"
	badFreshUnchanged(t, c, host, rpcLog(t, c, host), func(t *testing.T) {
		for _, extra := range [][]string{nil, {"--take-over"}} {
			out, code := badApply(t, c, host, c.path, extra...)
			t.Logf("apply %v (exit %d):\n%s", extra, code, out)
			if code != 1 {
				t.Errorf("apply %v: exit status %d, want 1", extra, code)
			}
			wants := []string{`interface "br-phy" of the OVS bridge carries IP addresses (198.18.0.1/24)`}
			if extra == nil {
				wants = append(wants, `bridge "br-phy" was not built by ovsmesh (no external_ids:ovsmesh-owner; its ports: eth0): refusing to change it; pass --take-over`)
			}
			for _, w := range wants {
				if !strings.Contains(out, w) {
					t.Errorf("apply %v: output lacks %q", extra, w)
				}
			}
		}
	})
}

// TestTakeOver: a hand-built br0 (the classic recipe) is refused, then adopted
// with --take-over; its hand-made port stays, and the mesh works across it.
func TestTakeOver(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n", 2))
	const host = "docker1"
	c.vsctl(host, "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev",
		"--", "add-port", "br0", "hand0", "--", "set", "interface", "hand0", "type=internal")
	before := badState(t, c, host)
	out, code := badApply(t, c, host, c.path)
	if code != 1 || !strings.Contains(out, `bridge "br0" was not built by ovsmesh (no external_ids:ovsmesh-owner; its ports: hand0)`) {
		t.Fatalf("apply on a hand-built br0: exit %d, want 1 and the refusal:\n%s", code, out)
	}
	badCompare(t, before, badState(t, c, host))

	if out, err := c.apply(host, "--take-over"); err != nil {
		t.Fatalf("apply --take-over: %v\n%s", err, out)
	}
	c.mustApply("docker2")
	if got := c.vsctl(host, "get", "bridge", "br0", "external_ids:ovsmesh-owner"); got != `"docker1"` && got != "docker1" {
		t.Errorf("br0's owner after the take-over: %s, want docker1", got)
	}
	if ports := c.vsctl(host, "list-ports", "br0"); ports != "gre-docker2\nhand0" {
		t.Errorf("ports of br0 after the take-over: %q, want gre-docker2 and the hand-made hand0", ports)
	}
	// From now on the bridge is ovsmesh's: a plain apply passes and changes nothing.
	if out, err := c.apply(host); err != nil || !strings.Contains(out, "nothing to change") {
		t.Errorf("apply after the take-over: %v\n%s", err, out)
	}
	c1, c2 := c.container(host, 2), c.container("docker2", 2)
	ping(t, c1, addr(c2.Addr), 56, false)
}

// TestRefuseOtherHost: a machine that runs apply as another host (a mistyped
// --host, a cloned VM) is refused twice over: that host's address is not on this
// machine, and the bridge carries this host's mark. Nothing changes, and
// --skip-address-check does not get past the mark.
func TestRefuseOtherHost(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n", 2))
	c.mustApply()
	const host = "docker1"
	log := rpcLog(t, c, host)
	mark := log.mark(t)
	before := badState(t, c, host)
	for _, extra := range [][]string{nil, {"--skip-address-check"}} {
		argv := append([]string{"--host", "docker2"}, extra...)
		out, code := badApply(t, c, host, c.path, argv...)
		t.Logf("apply as docker2 %v (exit %d):\n%s", extra, code, out)
		wants := []string{
			`bridge "br0" belongs to another host: external_ids:ovsmesh-owner=docker1, and this is "docker2"`,
		}
		if extra == nil {
			wants = append(wants, `host "docker2": its address in the topology, 198.18.0.2 is not an address of this machine`)
		} else if strings.Contains(out, "is not an address of this machine") {
			t.Errorf("--skip-address-check still checked the address")
		}
		if code != 1 {
			t.Errorf("exit status %d, want 1", code)
		}
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("apply as docker2 %v: output lacks %q", extra, w)
			}
		}
	}
	badCompare(t, before, badState(t, c, host))
	if tx := log.read(t, mark).transacts; len(tx) > 0 {
		t.Errorf("%d transact requests reached the host's database, want none", len(tx))
	}
}

// TestOneWriter: a one-shot apply next to the running loop is refused, naming
// the loop's pid; a dry run (which changes nothing) still works.
func TestOneWriter(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n", 2))
	c.mustApply("docker2")
	p := launchLoop(t, c, "docker1", loopOpts{wait: true})
	out, code := badApply(t, c, "docker1", c.path)
	t.Logf("apply beside the loop (exit %d):\n%s", code, out)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	for _, w := range []string{"is held by another ovsmesh", fmt.Sprintf("pid %d since ", p.pid()), "--interval"} {
		if !strings.Contains(out, w) {
			t.Errorf("refusal lacks %q", w)
		}
	}
	if out, code := badApply(t, c, "docker1", c.path, "--dry-run"); code != 0 {
		t.Errorf("dry run beside the loop: exit %d\n%s", code, out)
	}
	p.stop(t)
	if out, err := c.apply("docker1"); err != nil {
		t.Errorf("apply after the loop stopped: %v\n%s", err, out)
	}
}

// TestRenameBridge: changing network.bridge removes the old bridge ovsmesh
// built (with its tunnels) and builds the new one; the mesh works on it.
func TestRenameBridge(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n", 2))
	c.mustApply()
	c.write(labTopology("  encap: gre\n  bridge: brmesh\n", 2))
	c.mustApply()
	for _, h := range []string{"docker1", "docker2"} {
		if got := strings.Fields(c.vsctl(h, "list-br")); strings.Join(got, " ") != "br-phy brmesh" {
			t.Errorf("%s: bridges after the rename: %v, want br-phy brmesh", h, got)
		}
		if out, err := c.apply(h); err != nil || !strings.Contains(out, "nothing to change") {
			t.Errorf("%s: apply after the rename: %v\n%s", h, err, out)
		}
	}
	c1, c2 := c.container("docker1", 2), c.container("docker2", 2)
	ping(t, c1, addr(c2.Addr), 56, false)
}
