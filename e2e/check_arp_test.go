package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestCheckARP: with datapath netdev, the kernel must not answer ARP for the
// underlay address (on br-phy) from the NIC eth0, a port of br-phy. The lab
// sets net.ipv4.conf.all.arp_ignore=1 (ok); 0 is a problem with the sysctl.d
// line that fixes it; eth0's own 1 is enough (the kernel takes the larger).
func TestCheckARP(t *testing.T) {
	c := newCluster(t, labTopology("", 2))
	h := c.host("docker1")
	sysctl := func(kv string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := h.Run(ctx, "sysctl", "-q", "-w", kv); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		set, want string
		exit      int
	}{
		{"", "ok       arp eth0 (a port of br-phy): arp_ignore is 1 (all 1, eth0 0): the kernel does not answer ARP for the underlay address 198.18.0.1 (on br-phy) from eth0's MAC", 0},
		{"net.ipv4.conf.all.arp_ignore=0", "problem  arp eth0 (a port of br-phy): arp_ignore is 0 (all 0, eth0 0): the kernel also answers ARP for the underlay address 198.18.0.1 (on br-phy) from eth0's MAC; " +
			"a peer's ovs-vswitchd can keep that MAC in its tunnel neighbour cache, and its tunnel packets to this host then miss br-phy\n" +
			`         fix: set net.ipv4.conf.all.arp_ignore to 1: put the line "net.ipv4.conf.all.arp_ignore = 1" in /etc/sysctl.d/90-ovsmesh.conf and run sysctl --system (or "net.ipv4.conf.eth0.arp_ignore = 1" for this NIC only)`, 1},
		{"net.ipv4.conf.eth0.arp_ignore=1", "ok       arp eth0 (a port of br-phy): arp_ignore is 1 (all 0, eth0 1)", 0},
	} {
		if step.set != "" {
			sysctl(step.set)
		}
		out, err := c.check("docker1")
		t.Logf("%s:\n%s", step.set, out)
		if exitCode(err) != step.exit || !strings.Contains(out, step.want) {
			t.Errorf("%s: exit %d, want %d; lacks %q", step.set, exitCode(err), step.exit, step.want)
		}
	}
}
