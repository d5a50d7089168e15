package openflow

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// meshFlows returns the flow table of host h1 of an n-host GRE mesh: about 12,000
// flows for n = 1000. The tunnels' OpenFlow ports need not exist: vswitchd accepts
// output to any valid port number.
func meshFlows(b *testing.B, n int) []topology.Flow {
	b.Helper()
	var y strings.Builder
	y.WriteString("network: {encap: gre, mode: mesh, datapath: netdev, subnet: 10.0.0.0/8, slice_prefix: 20}\nhosts:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&y, "  - {name: h%d, address: 198.18.%d.%d, index: %d}\n", i, i/250, i%250+1, i)
	}
	top, err := topology.Compile("mesh.yaml", []byte(y.String()))
	if err != nil {
		b.Fatal(err)
	}
	return desired(b, top, "h1")
}

// BenchmarkApply1000Hosts measures, on a real ovs-vswitchd, the install of the
// whole table of one host of a 1000-host mesh in one bundle (from an empty table)
// and an Apply that finds the table up to date (one dump, no write).
func BenchmarkApply1000Hosts(b *testing.B) {
	o := startOVS(b)
	want := meshFlows(b, 1000)
	tbl := New("br0", testLogger(b), WithTimeout(60*time.Second))
	b.Logf("%d flows", len(want))

	b.Run("install", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			o.ofctl(b, "del-flows", "br0", "cookie="+ourCookie+"/-1")
			b.StartTimer()
			changes, err := tbl.Apply(b.Context(), want, false)
			if err != nil || len(changes) != len(want) {
				b.Fatalf("Apply: %d changes, %v", len(changes), err)
			}
		}
	})
	b.Run("noop", func(b *testing.B) {
		if _, err := tbl.Apply(b.Context(), want, false); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			changes, err := tbl.Apply(b.Context(), want, false)
			if err != nil || changes != nil {
				b.Fatalf("Apply: %d changes, %v", len(changes), err)
			}
		}
	})
}
