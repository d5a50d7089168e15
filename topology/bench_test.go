package topology

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// bigTopology writes an n-host mesh file. Under the address plan of docs/topology.md
// a cluster of n hosts needs n+1 slices of at least n+1 addresses, so 10,000 hosts
// need a /4: 240.0.0.0/4 (reserved, never routed) with /18 slices.
func bigTopology(b *testing.B, n int, mode string) string {
	b.Helper()
	var sb strings.Builder
	fmt.Fprintf(&sb, "network:\n  encap: vxlan\n  mode: %s\n  subnet: 240.0.0.0/4\n  slice_prefix: 18\nhosts:\n", mode)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&sb, "  - {name: host%05d, address: 10.%d.%d.%d, index: %d}\n", i, i>>16, (i>>8)&255, i&255, i)
	}
	path := filepath.Join(b.TempDir(), "topology.yaml")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkPlan10000 is `ovsmesh plan --host` for one host of a 10,000-host mesh:
// read, parse, default, validate and compute the host's desired state.
func BenchmarkPlan10000(b *testing.B) {
	path := bigTopology(b, 10000, ModeMesh)
	b.ReportAllocs()
	for b.Loop() {
		topo, err := Load(path)
		if err != nil {
			b.Fatal(err)
		}
		s, err := topo.Desired("host05000")
		if err != nil || len(s.OVS.Tunnels) != 9999 {
			b.Fatalf("%v, %d tunnels", err, len(s.OVS.Tunnels))
		}
	}
}

// BenchmarkYAMLOnly10000 is the baseline of BenchmarkPlan10000: reading the same
// file into yaml.v3 nodes and nothing else.
func BenchmarkYAMLOnly10000(b *testing.B) {
	path := bigTopology(b, 10000, ModeMesh)
	b.ReportAllocs()
	for b.Loop() {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		var n yaml.Node
		if err := yaml.Unmarshal(data, &n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTreeAllPairs2000 computes tree mode over 2,000 hosts with every pair
// as a candidate (no links in the file), from a file on disk.
func BenchmarkTreeAllPairs2000(b *testing.B) {
	path := bigTopology(b, 2000, ModeTree)
	b.ReportAllocs()
	for b.Loop() {
		topo, err := Load(path)
		if err != nil {
			b.Fatal(err)
		}
		if e := topo.Edges(); len(e) != 1999 {
			b.Fatalf("%d edges", len(e))
		}
	}
}

// BenchmarkTreeLinks2000 computes the minimum spanning tree of 2,000 hosts over
// 40,000 explicit candidate links with random costs (Kruskal with sorting).
func BenchmarkTreeLinks2000(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	topo := &Topology{Network: Network{Mode: ModeTree}, linksOK: true}
	for i := range 2000 {
		topo.Hosts = append(topo.Hosts, Host{Name: fmt.Sprintf("host%05d", i), Index: i + 1})
	}
	for i := 1; i < 2000; i++ {
		topo.Links = append(topo.Links, Link{A: topo.Hosts[i].Name, B: topo.Hosts[r.IntN(i)].Name, Cost: 1 + r.IntN(100)})
	}
	for len(topo.Links) < 40000 {
		a, c := r.IntN(2000), r.IntN(2000)
		if a != c {
			topo.Links = append(topo.Links, Link{A: topo.Hosts[a].Name, B: topo.Hosts[c].Name, Cost: 1 + r.IntN(100)})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if e := topo.Edges(); len(e) != 1999 {
			b.Fatalf("%d edges", len(e))
		}
	}
}
