package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/topology"
)

func scrape(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestMetricsAndHealth(t *testing.T) {
	topo, err := topology.Load("../examples/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := topo.Desired("docker1")
	tunnels := []Tunnel{{Name: "gre-docker2", BFDEnabled: true, BFDUp: true, BFDFlaps: 3, STPState: "forwarding"}, {Name: "gre-docker3", STPState: "blocking"}, {Name: "gre-docker4", STPState: "Discarding"}}
	m := New(30*time.Second, func(context.Context) ([]Tunnel, error) { return tunnels, nil })
	h := m.Handler()

	if code, body := scrape(t, h, "/healthz"); code != 503 || !strings.Contains(body, "no successful pass yet") {
		t.Errorf("healthz before any pass: %d %q", code, body)
	}
	ctx := context.Background()
	m.Pass(ctx, controller.Result{Host: "docker1", Topology: topo, Want: want, Duration: 40 * time.Millisecond,
		Steps: []controller.Step{{Name: controller.StepOVSDB, Changes: []string{"create bridge br0"}}}})
	if code, body := scrape(t, h, "/healthz"); code != 200 || !strings.Contains(body, "last successful pass") {
		t.Errorf("healthz after a good pass: %d %q", code, body)
	}
	// Drift: changes after convergence count as repairs; a failure makes it unhealthy.
	m.Pass(ctx, controller.Result{Host: "docker1", Topology: topo, Want: want, Steps: []controller.Step{
		{Name: controller.StepFlows, Changes: []string{"add flow a", "add flow b"}},
		{Name: controller.StepBridge, Err: errors.New(`link "docker0" exists with type "veth"`)}}})
	m.LoadError(errors.New("bad"))
	code, body := scrape(t, h, "/healthz")
	if code != 503 || !strings.Contains(body, `last pass failed: docker0: link "docker0" exists with type "veth"`) {
		t.Errorf("healthz after a failed pass: %d %q", code, body)
	}
	_, text := scrape(t, h, "/metrics")
	for _, line := range []string{
		"ovsmesh_passes_total 2",
		`ovsmesh_pass_failures_total{subsystem="docker0"} 1`,
		`ovsmesh_pass_failures_total{subsystem="ovsdb"} 0`,
		`ovsmesh_drift_repairs_total{kind="openflow"} 2`,
		`ovsmesh_drift_repairs_total{kind="ovsdb"} 0`,
		"ovsmesh_topology_load_errors_total 1",
		"ovsmesh_tunnels_desired 2",
		"ovsmesh_tunnels_actual 3",
		`ovsmesh_tunnel_bfd_up{tunnel="gre-docker2"} 1`,
		`ovsmesh_tunnel_bfd_flaps{tunnel="gre-docker2"} 3`,
		`ovsmesh_tunnel_stp_state{state="blocking",tunnel="gre-docker3"} 1`,
		`ovsmesh_tunnel_stp_state{state="forwarding",tunnel="gre-docker3"} 0`,
		// RSTP's states are capitalised in OVSDB.
		`ovsmesh_tunnel_stp_state{state="discarding",tunnel="gre-docker4"} 1`,
		"ovsmesh_pass_duration_seconds_count 2",
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("metrics lack %q", line)
		}
	}
	if strings.Contains(text, `ovsmesh_tunnel_bfd_up{tunnel="gre-docker3"}`) {
		t.Error("bfd metric for a tunnel without BFD")
	}
	for _, l := range strings.Split(text, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "ovsmesh_") {
			t.Errorf("metric outside the ovsmesh_ namespace: %s", l)
		}
	}
	// Three intervals without a success: unhealthy.
	m.mu.Lock()
	m.lastErr, m.lastOK = nil, time.Now().Add(-2*time.Minute)
	m.mu.Unlock()
	if ok, why := m.Healthy(time.Now()); ok || !strings.Contains(why, "more than three intervals (1m30s)") {
		t.Errorf("stale: %v %q", ok, why)
	}
}
