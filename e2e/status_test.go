package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStatus: `ovsmesh status` shows what is applied (bridge, tunnels, foreign
// ports, flows, docker0), as text and json, and with a topology the drift from the
// plan, exiting 1 while the host does not match.
func TestStatus(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n  mode: mesh\n", 2))
	c.mustApply()
	status := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		h := c.host("docker1")
		return h.Run(ctx, append([]string{ovsmeshBin, "status", "--db", h.DB()}, args...)...)
	}
	withPlan := []string{c.path, "--host", "docker1",
		"--interfaces", filepath.Join(c.dir, "docker1", "interfaces"), "--daemon-json", filepath.Join(c.dir, "docker1", "daemon.json")}

	out, err := status()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bridge br0  owner=docker1 datapath=netdev fail_mode=secure stp=off mtu=1462 flows=42",
		"gre-docker2  gre   198.18.0.2", "32770", "docker0: bridge mac=02:42:ac:11:00:01 mtu=1462 up=true addresses=[172.17.0.1/16", "port br0: master=docker0"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if out, err = status(withPlan...); err != nil || !strings.Contains(out, "drift: none, the host matches the plan") {
		t.Errorf("status of a converged host: %v\n%s", err, out)
	}

	c.vsctl("docker1", "add-port", "br0", "foreign0", "--", "set", "interface", "foreign0", "type=internal")
	c.vsctl("docker1", "set", "interface", "gre-docker2", "options:remote_ip=198.18.0.99")
	out, err = status(withPlan...)
	if err == nil {
		t.Errorf("status exited 0 while the host drifted:\n%s", out)
	}
	for _, want := range []string{"foreign port foreign0 (type internal): not ovsmesh's, left alone",
		"drift: 1 changes would be made by apply:", "ovsdb: update interface gre-docker2 options:remote_ip 198.18.0.99 -> 198.18.0.2"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := c.host("docker1")
	js, _ := h.Command(ctx, append([]string{ovsmeshBin, "status", "--db", h.DB()}, append(withPlan, "-o", "json")...)...).Output() // exit 1: drift
	var rep struct {
		Matches *bool    `json:"matches_plan"`
		Drift   []string `json:"drift"`
		Flows   map[string]int
	}
	if err := json.Unmarshal(js, &rep); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, js)
	}
	if rep.Matches == nil || *rep.Matches || len(rep.Drift) != 1 || rep.Flows["br0"] != 42 {
		t.Errorf("status -o json: %+v", rep)
	}
	// status changed nothing: the drift is still there for apply to repair.
	if got := c.vsctl("docker1", "get", "interface", "gre-docker2", "options:remote_ip"); got != `"198.18.0.99"` {
		t.Errorf("status changed remote_ip to %s", got)
	}
}
