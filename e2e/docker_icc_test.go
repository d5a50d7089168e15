package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// TestDockerICCDropsMesh: the claim behind the docker step's icc error, for
// real. With "icc": false on docker2, Docker's DROP rule for traffic between
// docker0's ports also drops the mesh's frames (bridged between br0 and the
// container's veth, handed to iptables by br_netfilter): a container on docker1
// gets no answer from one on docker2, and apply on docker2 fails naming icc.
// The fix's DOCKER-USER rules let them through.
func TestDockerICCDropsMesh(t *testing.T) {
	c := newCluster(t, labTopology("", 2))
	h1, h2 := c.host("docker1"), c.host("docker2")
	for _, h := range []*lab.Host{h1, h2} {
		if out, err := c.apply(h.Name, withDocker(h)...); exitCode(err) > 1 { // 1: Docker is not running yet
			t.Fatalf("apply on %s: %v\n%s", h.Name, err, out)
		}
	}
	setICCFalse(t, h2.DaemonJSON())
	startDocker(t, h1, "")
	startDocker(t, h2, "")
	for _, h := range []*lab.Host{h1, h2} {
		out, err := c.apply(h.Name, withDocker(h)...) // Docker may have changed docker0
		t.Logf("apply on %s with Docker: %v\n%s", h.Name, err, out)
	}
	out, err := c.apply("docker2", withDocker(h2)...)
	if exitCode(err) != 1 || !strings.Contains(out, `docker: Docker's network "bridge" has enable_icc false (daemon.json "icc": false), the plan needs true`) {
		t.Errorf("apply on docker2 with icc false: exit %d\n%s", exitCode(err), out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c1, err := h1.RunContainer(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := h2.RunContainer(ctx, "c2")
	if err != nil {
		t.Fatal(err)
	}
	if rules, err := h2.Run(ctx, "iptables", "-S", "FORWARD"); err != nil || !strings.Contains(rules, "-A FORWARD -i docker0 -o docker0 -j DROP") {
		t.Fatalf("docker2's FORWARD chain lacks Docker's icc DROP rule: %v\n%s", err, rules)
	}
	noPing(t, c1, c2.Addr.Addr(), 100, false)
	for _, dir := range []string{"--physdev-in", "--physdev-out"} {
		if out, err := h2.Run(ctx, "iptables", "-I", "DOCKER-USER", "-m", "physdev", dir, "br0", "-j", "ACCEPT"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	ping(t, c1, c2.Addr.Addr(), 100, false)
}

// setICCFalse adds "icc": false to a daemon.json, keeping its other keys.
func setICCFalse(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	doc["icc"] = false
	if b, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
