package ifupdown

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// desired loads a topology file and returns the desired state of host.
func desired(t *testing.T, path, host string) topology.HostState {
	t.Helper()
	topo, err := topology.Load(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	s, err := topo.Desired(host)
	if err != nil {
		t.Fatalf("desired %s: %v", host, err)
	}
	return s
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

func TestRenderInterfacesGolden(t *testing.T) {
	for _, tc := range []struct{ golden, topology, host string }{
		{"classic-gre.docker1.interfaces", "../examples/classic-gre.yaml", "docker1"},
		{"vxlan-mesh.node-a.interfaces", "../examples/vxlan-mesh.yaml", "node-a"},
		{"bfd-rstp-links.h2.interfaces", "testdata/bfd-rstp-links.yaml", "h2"},
		{"lab.docker3.interfaces", "../examples/lab.yaml", "docker3"},
		{"ip6gre-system.v1.interfaces", "testdata/ip6gre-system.yaml", "v1"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			golden(t, tc.golden, RenderInterfaces(desired(t, tc.topology, tc.host)))
		})
	}
}
