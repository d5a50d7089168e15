package topology

import (
	"fmt"
	"os"
	"testing"
)

// BenchmarkPlan1000Networks4 is BenchmarkPlan1000 with 4 networks: it reports the
// host's flows, and the flows each network adds (its pipeline and its share of
// table 0's dispatch: all flows minus those of the same host without networks,
// divided by 4).
func BenchmarkPlan1000Networks4(b *testing.B) {
	path := bigTopology(b, 1000, ModeMesh)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	without, err := Load(path)
	if err != nil {
		b.Fatal(err)
	}
	base, err := without.Desired("host00500")
	if err != nil {
		b.Fatal(err)
	}
	data = append(data, "networks:\n"...)
	for j := range 4 {
		data = fmt.Appendf(data, "  - {name: net%d, subnet: 100.%d.0.0/12, slice_prefix: 22}\n", j, 64+16*j)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var flows int
	for b.Loop() {
		topo, err := Load(path)
		if err != nil {
			b.Fatal(err)
		}
		s, err := topo.Desired("host00500")
		if err != nil || len(s.OVS.Tunnels) != 999 || len(s.Networks) != 4 {
			b.Fatalf("%v, %d tunnels, %d networks", err, len(s.OVS.Tunnels), len(s.Networks))
		}
		flows = len(s.Flows)
	}
	b.ReportMetric(float64(flows), "flows")
	b.ReportMetric(float64(flows-len(base.Flows))/4, "flows/network")
}
