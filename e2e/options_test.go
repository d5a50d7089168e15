package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// TestTunnelLocalIP: every tunnel leaves from its host's own underlay address
// (options:local_ip), which the userspace datapath accepts: every container
// still reaches every other.
func TestTunnelLocalIP(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n", 3))
	c.mustApply()
	optionsCheck(t, c, "gre")
}

// TestGREOverIPv6Userspace: GRE over an IPv6 underlay on the userspace datapath
// keeps type=gre (OVS 3.1's netdev builds it from an IPv6 remote_ip; ip6gre with
// packet_type=legacy_l2 is the kernel datapath's form) with local_ip, and the
// containers of both hosts talk.
func TestGREOverIPv6Userspace(t *testing.T) {
	t.Parallel()
	yaml := "network:\n  datapath: netdev\n  encap: gre\n  subnet: 172.17.0.0/16\n  slice_prefix: 20\nhosts:\n" +
		"  - {name: docker1, address: 'fd00:198:18::1', index: 1}\n  - {name: docker2, address: 'fd00:198:18::2', index: 2}\n"
	c := newCluster(t, yaml)
	c.mustApply()
	optionsCheck(t, c, "gre")
}

// optionsCheck checks type and options:local_ip of every planned tunnel in
// OVSDB, then pings every container from every other.
func optionsCheck(t *testing.T, c *cluster, typ string) {
	t.Helper()
	cts := map[string]*lab.Container{}
	var hosts []string
	for _, h := range c.topo.Hosts {
		hosts = append(hosts, h.Name)
		for _, tu := range c.plan(h.Name).OVS.Tunnels {
			if got := c.vsctl(h.Name, "get", "interface", tu.Name, "type"); got != typ {
				t.Errorf("%s: %s type %s, want %s", h.Name, tu.Name, got, typ)
			}
			got := strings.Trim(c.vsctl(h.Name, "get", "interface", tu.Name, "options:local_ip"), `"`)
			if got != h.Address.String() {
				t.Errorf("%s: %s options:local_ip %s, want the host's underlay address %s", h.Name, tu.Name, got, h.Address)
			}
		}
		cts[h.Name] = c.container(h.Name, 2)
	}
	for _, a := range hosts {
		for _, b := range hosts {
			if a != b {
				ping(t, cts[a], addr(cts[b].Addr), 56, false)
			}
		}
	}
	if t.Failed() {
		for _, h := range hosts {
			t.Log(fmt.Sprintf("%s:\n%s", h, c.vsctl(h, "show")))
		}
	}
}
