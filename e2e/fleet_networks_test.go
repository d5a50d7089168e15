package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFleetNetworks: `fleet set-network` with a networks list stores it with
// the network settings; the next pass of a fleet host plans the networks (its
// saved view lists them) and gives br0 the network's internal port.
func TestFleetNetworks(t *testing.T) {
	f := newFleetLab(t, fleetNetwork)
	if out, err := f.fleetOnce("docker1"); err != nil {
		t.Fatalf("apply --etcd on docker1: %v\n%s", err, out)
	}
	if ports := f.vsctl("docker1", "list-ports", "br0"); strings.Contains(ports, "ov-app") {
		t.Fatalf("ov-app before set-network: %s", ports)
	}
	path := filepath.Join(f.dir, "with-networks.yaml")
	if err := os.WriteFile(path, []byte(fleetNetwork+"networks:\n  - {name: app, subnet: 10.20.0.0/16, key: 3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := f.ovsmesh("docker1", "fleet", "set-network", path)
	t.Logf("fleet set-network: %s", strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("fleet set-network: %v", err)
	}
	out, err = f.fleetOnce("docker1")
	if err != nil {
		t.Fatalf("apply --etcd on docker1 after set-network: %v\n%s", err, out)
	}
	v := f.viewHosts("docker1")
	ports := f.vsctl("docker1", "list-ports", "br0")
	t.Logf("check: docker1's view has networks %v; br0's ports: %s", v.Networks, strings.ReplaceAll(ports, "\n", " "))
	if len(v.Networks) != 1 || v.Networks[0].Name != "app" || !strings.Contains(ports, "ov-app") {
		t.Errorf("after set-network: view networks %v, ports %q, apply:\n%s", v.Networks, ports, out)
	}
}
