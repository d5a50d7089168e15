package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRelayRollingUpdate: turning bfd on host by host never cuts a pair. docker1
// and docker2 run with bfd: true, docker3 still without: docker3 answers no BFD,
// so docker1 and docker2 never see its session up and send to it directly, as
// without BFD, instead of through a relay that docker3 would not understand.
// Between docker1 and docker2, whose sessions are up, the relay choice is in
// place.
func TestRelayRollingUpdate(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n  bfd: true\n", 3))
	old := filepath.Join(c.dir, "old.yaml")
	if err := os.WriteFile(old, []byte(labTopology("  encap: gre\n", 3)), 0o644); err != nil {
		t.Fatal(err)
	}
	applyOld := func() {
		h := c.host("docker3")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := h.Command(ctx, ovsmeshBin, "apply", old, "--host", "docker3", "--db", h.DB(),
			"--interfaces", filepath.Join(c.dir, "docker3", "interfaces"),
			"--daemon-json", filepath.Join(c.dir, "docker3", "daemon.json")).CombinedOutput()
		if err != nil {
			t.Fatalf("apply the old file on docker3: %v\n%s", err, out)
		}
	}
	c.mustApply("docker1", "docker2")
	applyOld()
	r := &relayLab{cluster: c}
	r.waitBFD("docker1", "gre-docker2", "up")
	r.waitBFD("docker2", "gre-docker1", "up")
	time.Sleep(2 * time.Second) // BFD toward docker3 stays down: it sends none
	c.mustApply("docker1", "docker2")
	for _, h := range []string{"docker1", "docker2"} {
		if got := strings.Trim(c.vsctl(h, "get", "interface", "gre-docker3", "bfd_status:state"), `"`); got == "up" {
			t.Fatalf("%s: BFD toward docker3 (no BFD there) is up", h)
		}
	}
	c1, c2, c3 := c.container("docker1", 2), c.container("docker2", 2), c.container("docker3", 2)
	ping(t, c1, addr(c3.Addr), 0, false)
	ping(t, c2, addr(c3.Addr), 0, false)
	ping(t, c3, addr(c1.Addr), 0, false)
	ping(t, c1, addr(c2.Addr), 0, false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	status, err := c.host("docker1").Run(ctx, ovsmeshBin, "status", "--db", c.host("docker1").DB())
	if err != nil || !strings.Contains(status, "direct (no relay)") || !strings.Contains(status, "  direct  ") {
		t.Errorf("docker1: ovsmesh status (%v) does not show docker2 direct and docker3 direct without relay:\n%s", err, status)
	}
	dump := c.ofctl("docker1", "dump-flows", "br0", "table=9")
	if !strings.Contains(dump, "reg6=0x8002 actions=bundle_load(") {
		t.Errorf("docker1: no relay choice toward docker2, whose session is up:\n%s", dump)
	}
	if !strings.Contains(dump, "reg6=0x8003 actions=load:0->NXM_NX_TUN_ID[],output:32771") {
		t.Errorf("docker1: frames for docker3 (no BFD) do not go straight to its tunnel:\n%s", dump)
	}
}
