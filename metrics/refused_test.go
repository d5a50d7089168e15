package metrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/controller"
)

// TestRefusedTunnel: a tunnel ovs-vswitchd refused is exported with its error
// and is not counted as an actual tunnel; once it works the series goes away.
func TestRefusedTunnel(t *testing.T) {
	const refusal = "ovs-vswitchd reports: could not add network device gre-web2 to ofproto (File exists)"
	tunnels := []Tunnel{{Name: "gre-docker3"}, {Name: "gre-web2", Refused: refusal}}
	m := New(30*time.Second, func(context.Context) ([]Tunnel, error) { return tunnels, nil })
	h := m.Handler()
	m.Pass(context.Background(), controller.Result{Host: "docker1"})
	_, text := scrape(t, h, "/metrics")
	for _, line := range []string{
		`ovsmesh_tunnel_refused{error="` + refusal + `",tunnel="gre-web2"} 1`,
		"ovsmesh_tunnels_actual 1",
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("metrics lack %q", line)
		}
	}
	tunnels[1].Refused = ""
	m.Pass(context.Background(), controller.Result{Host: "docker1"})
	_, text = scrape(t, h, "/metrics")
	if strings.Contains(text, "ovsmesh_tunnel_refused{") || !strings.Contains(text, "ovsmesh_tunnels_actual 2\n") {
		t.Errorf("after the repair: %s", grepLines(text, "tunnel"))
	}
}
