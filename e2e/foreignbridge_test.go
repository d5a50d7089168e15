package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A Linux bridge ovsmesh did not build is never taken over (issue 19, item 6):
// `docker_bridge: virbr0` named libvirt's bridge, with a VM's tap on it, and
// apply changed its MTU, MAC and address and attached br0. Now the preflight
// refuses and nothing changes; --take-over adopts and marks it, and later
// passes need no flag. Docker's own docker0 (veths only) is still adopted
// without the flag.

// linkState is what the test compares of a link: ip link (MTU, MAC, alias),
// its addresses and its ports.
func linkState(t *testing.T, c *cluster, host, name string) string {
	t.Helper()
	return strings.Join([]string{
		strings.Join(strings.Fields(hostRun(t, c, host, "ip", "link", "show", "dev", name)), " "),
		hostRun(t, c, host, "ip", "-br", "addr", "show", "dev", name),
		hostRun(t, c, host, "ip", "-br", "link", "show", "master", name),
	}, "\n")
}

func TestForeignLinuxBridge(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n  docker_bridge: virbr0\n", 2))
	// libvirt's default network: its bridge with an address and a VM's tap.
	for _, argv := range [][]string{
		{"ip", "link", "add", "virbr0", "type", "bridge"},
		{"ip", "addr", "add", "192.168.122.1/24", "dev", "virbr0"},
		{"ip", "tuntap", "add", "dev", "vnet0", "mode", "tap"},
		{"ip", "link", "set", "vnet0", "master", "virbr0"},
		{"ip", "link", "set", "virbr0", "up"},
	} {
		hostRun(t, c, "docker1", argv...)
	}
	before := linkState(t, c, "docker1", "virbr0")

	out, err := c.apply("docker1")
	want := `preflight: Linux bridge "virbr0" was not built by ovsmesh (no alias ovsmesh-owner=docker1, its ports: vnet0 (tuntap)): refusing to change its MTU, MAC and addresses or to attach br0 to it; pass --take-over to adopt it`
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("apply on libvirt's bridge (%v), want the refusal %q:\n%s", err, want, out)
	}
	if after := linkState(t, c, "docker1", "virbr0"); after != before {
		t.Errorf("virbr0 changed:\n%s\nwas\n%s", after, before)
	}
	if br := c.vsctl("docker1", "list-br"); br != "br-phy" {
		t.Errorf("bridges after the refusal: %q, want only the lab's br-phy", br)
	}
	for _, f := range []string{"interfaces", "daemon.json"} {
		if _, err := os.Stat(filepath.Join(c.dir, "docker1", f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after the refusal: %v, want none written", f, err)
		}
	}
	if out := hostRun(t, c, "docker1", "nft", "list", "tables"); strings.Contains(out, "ovsmesh") {
		t.Errorf("nftables tables after the refusal:\n%s", out)
	}

	out, err = c.apply("docker1", "--take-over")
	if err != nil || !strings.Contains(out, "docker0: set virbr0 alias ovsmesh-owner=docker1") {
		t.Errorf("apply --take-over (%v):\n%s", err, out)
	}
	st := linkState(t, c, "docker1", "virbr0")
	for _, w := range []string{"alias ovsmesh-owner=docker1", "172.17.0.1/16", "br0 "} {
		if !strings.Contains(st, w) {
			t.Errorf("virbr0 after --take-over lacks %q:\n%s", w, st)
		}
	}
	if out, err := c.apply("docker1"); err != nil || !strings.Contains(out, "nothing to change") {
		t.Errorf("a pass without the flag after the take-over (%v):\n%s", err, out)
	}

	// Docker's docker0, with a container's veth, is adopted without the flag.
	c.write(labTopology("  encap: gre\n", 2))
	for _, argv := range [][]string{
		{"ip", "link", "add", "docker0", "type", "bridge"},
		{"ip", "addr", "add", "172.17.0.1/16", "dev", "docker0"},
		{"ip", "link", "add", "veth1a2b3c", "type", "veth", "peer", "name", "eth9"},
		{"ip", "link", "set", "veth1a2b3c", "master", "docker0"},
	} {
		hostRun(t, c, "docker2", argv...)
	}
	out, err = c.apply("docker2")
	if err != nil || !strings.Contains(out, "docker0: set docker0 alias ovsmesh-owner=docker2") {
		t.Errorf("apply on Docker's docker0 (%v):\n%s", err, out)
	}
}
