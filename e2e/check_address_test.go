package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCheckAddressClashes: a route inside the container subnet, an interface
// address in it and a daemon.json whose default-address-pools overlap it are
// each reported, with the fix, and check exits 1.
func TestCheckAddressClashes(t *testing.T) {
	c := newCluster(t, labTopology("", 2))
	h := c.host("docker1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, argv := range [][]string{
		{"ip", "-n", h.NS, "route", "add", "172.17.200.0/24", "dev", "lo"},
		{"ip", "-n", h.NS, "link", "add", "chk0", "type", "veth", "peer", "name", "chk1"},
		{"ip", "-n", h.NS, "addr", "add", "172.17.210.1/24", "dev", "chk0"},
	} {
		if _, err := h.Run(ctx, argv...); err != nil {
			t.Fatal(err)
		}
	}
	dj := filepath.Join(c.dir, "docker1", "daemon.json")
	pools := `{"default-address-pools": [{"base": "10.200.0.0/16", "size": 24}, {"base": "172.16.0.0/12", "size": 24}], "log-driver": "journald"}`
	if err := os.WriteFile(dj, []byte(pools), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := c.check("docker1")
	t.Logf("route, interface address and pool in the subnet:\n%s", out)
	if exitCode(err) != 1 {
		t.Errorf("exit %v, want 1", err)
	}
	for _, want := range []string{
		"problem  address route 172.17.200.0/24 dev lo: lies inside the container subnet 172.17.0.0/16",
		"fix: delete the route (ip route del 172.17.200.0/24 dev lo)",
		"problem  address interface chk0 (172.17.210.1/24): its address overlaps the container subnet 172.17.0.0/16",
		"fix: remove the address (ip addr del 172.17.210.1/24 dev chk0)",
		"problem  address daemon.json " + dj + ": default-address-pools[1]: base 172.16.0.0/12 overlaps the container subnet 172.17.0.0/16",
		"fix: move the pool's base outside 172.17.0.0/16, or remove the entry",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "default-address-pools[0]") {
		t.Errorf("reports the pool outside the subnet")
	}
}
