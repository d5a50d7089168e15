package metrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/topology"
)

// TestRelayPaths: in a mesh with bfd: true, the path metrics follow the tunnels'
// BFD forwarding the way TableSend's bundle_load does, and a failover is counted
// when the path leaves the direct tunnel.
func TestRelayPaths(t *testing.T) {
	topo, err := topology.Compile("t.yaml", []byte("network: {encap: gre, bfd: true, subnet: 172.17.0.0/16, slice_prefix: 20}\n"+
		"hosts:\n  - {name: docker1, address: 198.18.0.1, index: 1}\n  - {name: docker2, address: 198.18.0.2, index: 2}\n"+
		"  - {name: docker3, address: 198.18.0.3, index: 3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := topo.Desired("docker1")
	if err != nil {
		t.Fatal(err)
	}
	var tunnels []Tunnel
	m := New(30*time.Second, func(context.Context) ([]Tunnel, error) { return tunnels, nil })
	pass := func(to2, to3 bool) string {
		tunnels = []Tunnel{{Name: "gre-docker2", BFDEnabled: true, BFDForwarding: to2}, {Name: "gre-docker3", BFDEnabled: true, BFDForwarding: to3}}
		m.Pass(context.Background(), controller.Result{Host: "docker1", Topology: topo, Want: want})
		_, text := scrape(t, m.Handler(), "/metrics")
		return text
	}
	for i, step := range []struct {
		to2, to3 bool
		want     []string
	}{
		{true, true, []string{`ovsmesh_tunnel_path{path="direct",tunnel="gre-docker2"} 1`, `ovsmesh_tunnel_failovers_total{tunnel="gre-docker2"} 0`}},
		{false, true, []string{`ovsmesh_tunnel_path{path="relayed",tunnel="gre-docker2"} 1`, `ovsmesh_tunnel_relay{tunnel="gre-docker2",via="gre-docker3"} 1`,
			`ovsmesh_tunnel_failovers_total{tunnel="gre-docker2"} 1`, `ovsmesh_tunnel_path{path="direct",tunnel="gre-docker3"} 1`}},
		{false, true, []string{`ovsmesh_tunnel_failovers_total{tunnel="gre-docker2"} 1`}},
		{true, true, []string{`ovsmesh_tunnel_path{path="direct",tunnel="gre-docker2"} 1`, `ovsmesh_tunnel_failovers_total{tunnel="gre-docker2"} 1`}},
		{false, false, []string{`ovsmesh_tunnel_path{path="down",tunnel="gre-docker2"} 1`, `ovsmesh_tunnel_failovers_total{tunnel="gre-docker2"} 2`,
			`ovsmesh_tunnel_path{path="down",tunnel="gre-docker3"} 1`}},
	} {
		text := pass(step.to2, step.to3)
		for _, line := range step.want {
			if !strings.Contains(text, line+"\n") {
				t.Errorf("pass %d (docker2 %v, docker3 %v): no line %q in\n%s", i+1, step.to2, step.to3, line, grepLines(text, "tunnel_"))
			}
		}
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
