package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRefusedTunnelForeignClash: a tunnel ovs-vswitchd refuses because a port
// that is not ovsmesh's has the same tunnel (here gre0 on the operator's bridge
// brx, same remote_ip and local_ip) is reported with that cause, in the pass's
// error, in `ovsmesh status` and in /metrics, and is not recreated: the loop
// retries with its backoff, sending nothing. Once the operator removes brx, the
// tunnel works within two intervals.
func TestRefusedTunnelForeignClash(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology(loopGRE, 2))
	c.mustApply("docker2")
	c.vsctl("docker1", "add-br", "brx", "--", "set", "bridge", "brx", "datapath_type=netdev",
		"--", "add-port", "brx", "gre0", "--", "set", "interface", "gre0", "type=gre",
		"options:remote_ip=198.18.0.2", "options:local_ip=198.18.0.1")
	const cause = `it clashes with interface "gre0" of port "gre0" of bridge "brx", which is not ovsmesh's`
	for pass := 1; pass <= 2; pass++ {
		out, err := c.apply("docker1")
		if err == nil || !strings.Contains(out, cause) {
			t.Errorf("one-shot pass %d on docker1: %v, want the clash reported:\n%s", pass, err, out)
		}
		if pass == 2 && strings.Contains(out, "create port gre-docker2") {
			t.Errorf("one-shot pass %d on docker1 changed something (a recreation?):\n%s", pass, out)
		}
	}
	ct1, ct2 := c.container("docker1", 2), c.container("docker2", 2)
	loop := launchLoop(t, c, "docker1", loopOpts{})
	time.Sleep(3 * loopInterval) // passes retried with the backoff
	fails := loop.logs(t, 0, "reconcile step failed")
	for _, e := range fails {
		if e.Step != "ovsdb" || !strings.Contains(e.Err, "gre-docker2") || !strings.Contains(e.Err, cause) {
			t.Errorf("failed pass without the cause: %s: %s", e.Step, e.Err)
		}
	}
	// The backoff (1 s, 2 s, then the 2 s interval) allows about 4 passes in 6 s;
	// a pass that recreated the port would trigger the next through its own
	// change, every 250 ms or so.
	if len(fails) == 0 || len(fails) > 6 {
		t.Errorf("%d failed passes in %v, want 1 to 6 (the loop's backoff)", len(fails), 3*loopInterval)
	}
	for _, e := range loop.logs(t, 0, "change") {
		if e.Step == "ovsdb" {
			t.Errorf("the loop changed ovsdb although the cause is outside ovsmesh: %s", e.Change)
		}
	}
	refusedShown(t, c, loop)

	c.vsctl("docker1", "del-br", "brx")
	removed := time.Now()
	if _, ok := poll(2*loopInterval, func() bool { ok, _ := tunnelHealthy(c, "docker1", "gre-docker2"); return ok }); !ok {
		_, got := tunnelHealthy(c, "docker1", "gre-docker2")
		t.Errorf("gre-docker2 not working within two intervals of the removal of brx: %s", got)
	}
	if _, err := pingWithin(ct1, addr(ct2.Addr), 2*loopInterval-time.Since(removed)); err != nil {
		t.Errorf("docker1's container does not reach docker2's within two intervals of the removal of brx")
	}
	t.Logf("docker1's container reaches docker2's %v after brx was removed", time.Since(removed).Round(time.Millisecond))
}

// refusedShown checks that `ovsmesh status` and /metrics show the refused tunnel
// with ovs-vswitchd's error.
func refusedShown(t *testing.T, c *cluster, loop *loopProc) {
	t.Helper()
	const refusal = "ovs-vswitchd reports: could not add network device gre-docker2 to ofproto (File exists)"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := c.host("docker1")
	out, err := h.Run(ctx, ovsmeshBin, "status", "--db", h.DB())
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if !strings.Contains(out, "tunnel gre-docker2 refused by ovs-vswitchd: "+refusal+"\n") {
		t.Errorf("status does not show the refused tunnel:\n%s", out)
	}
	out, err = h.Run(ctx, ovsmeshBin, "status", "--db", h.DB(), "-o", "json")
	if err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"refused": "`+refusal+`"`) {
		t.Errorf("status -o json does not show the refused tunnel:\n%s", out)
	}
	metric := `ovsmesh_tunnel_refused{error="` + refusal + `",tunnel="gre-docker2"}`
	if v := loop.metric(t, metric); v != 1 {
		t.Errorf("%s = %v, want 1", metric, v)
	}
	if v := loop.metric(t, "ovsmesh_tunnels_actual"); v != 0 {
		t.Errorf("ovsmesh_tunnels_actual = %v, want 0 (the only tunnel is refused)", v)
	}
}

// TestRefusedTunnelRecreated: the state an older ovsmesh left after a rename at
// the same address (gre-docker2 deleted and gre-web2 created in one transaction,
// gre-web2 refused with ofport -1) is repaired by the next one-shot apply: it
// deletes the refused tunnel, waits for ovs-vswitchd, creates it again, and
// exits 0; the pass after it changes nothing and the containers talk.
func TestRefusedTunnelRecreated(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology(loopGRE, 2))
	c.mustApply()
	ct1, ct2 := c.container("docker1", 2), c.container("docker2", 2)
	c.write(renameTwo(loopGRE))
	if out, err := applyAs(c, "docker2", "web2", "--take-over"); err != nil {
		t.Fatalf("apply on docker2 as web2: %v\n%s", err, out)
	}
	c.vsctl("docker1", "del-port", "br0", "gre-docker2", "--", "add-port", "br0", "gre-web2",
		"--", "set", "port", "gre-web2", "external_ids:ovsmesh-owner=docker1",
		"--", "set", "interface", "gre-web2", "type=gre", "options:remote_ip=198.18.0.2",
		"options:local_ip=198.18.0.1", "ofport_request=32770", "external_ids:ovsmesh-owner=docker1")
	if ok, got := tunnelHealthy(c, "docker1", "gre-web2"); ok || !strings.Contains(got, "File exists") {
		t.Fatalf("the hand-made transaction did not leave gre-web2 refused: %s", got)
	}
	out := mustApplyTwice(t, c, "docker1", "docker1")
	if !strings.Contains(out, "recreate port gre-web2 type=gre remote_ip=198.18.0.2 local_ip=198.18.0.1 ofport_request=32770 (ovs-vswitchd reports: could not add network device gre-web2 to ofproto (File exists))") {
		t.Errorf("the first pass did not recreate gre-web2:\n%s", out)
	}
	if ok, got := tunnelHealthy(c, "docker1", "gre-web2"); !ok {
		t.Errorf("gre-web2 after the pass: %s", got)
	}
	ping(t, ct1, addr(ct2.Addr), 56, false)
}

// renameTwo is labTopology(network, 2) with docker2 named web2.
func renameTwo(network string) string {
	return strings.Replace(labTopology(network, 2), "name: docker2,", "name: web2,", 1)
}
