package topology

import (
	"strings"
	"testing"
)

// TestCompileNetwork: network settings alone compile without hosts, with their
// address plan, and their problems are reported at their places in the text.
func TestCompileNetwork(t *testing.T) {
	// 192.0.2.0/24 held the made-up host that used to stand in for the hosts.
	topo, err := CompileNetwork("net.yaml", []byte("network:\n  subnet: 192.0.2.0/24\n  slice_prefix: 28\n"))
	if err != nil {
		t.Fatalf("valid settings: %v", err)
	}
	if len(topo.Hosts) != 0 || topo.Slots() != 15 || topo.Network.Encap != DefaultEncap {
		t.Errorf("hosts %d, slots %d, encap %q; want 0, 15, %q", len(topo.Hosts), topo.Slots(), topo.Network.Encap, DefaultEncap)
	}
	_, err = CompileNetwork("net.yaml", []byte("network:\n  mtu: 1400\n  encap: geneve\n"))
	want := `net.yaml:3:10: network.encap: "geneve" is not one of gre, vxlan`
	if err == nil || err.Error() != want {
		t.Errorf("bad encap: %v, want %q", err, want)
	}
	if _, err := CompileNetwork("net.yaml", []byte("network: {}\nhosts: []\n")); err == nil || !strings.Contains(err.Error(), "no hosts") {
		t.Errorf("an empty hosts list: %v, want the same problem as Compile's", err)
	}
	if _, err := Compile("net.yaml", []byte("network: {}\n")); err == nil || !strings.Contains(err.Error(), "hosts: missing") {
		t.Errorf("Compile without hosts: %v, want hosts missing", err)
	}
}
