package e2e

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// TestIdempotence proves that a converged pass writes nothing (README, What apply does) on a 3-host GRE mesh: once a host
// matches the plan, a pass sends no OVSDB write transaction, no flow
// modification, no netlink change and writes no file. Each detector is shown to
// work by a pass after a drift, which it must see. It also checks --dry-run on a
// fresh host (creates nothing) and on a converged one (nothing to change).
func TestIdempotence(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n  mode: mesh\n", 3))
	hosts := []string{"docker1", "docker2", "docker3"}
	logs := map[string]*ovsdbLog{}
	for _, h := range hosts {
		logs[h] = rpcLog(t, c, h)
	}

	fresh := "docker1"
	mark := logs[fresh].mark(t)
	dryOut, dryErr := c.apply(fresh, "--dry-run")
	t.Logf("dry run on fresh %s: %v\n%s", fresh, dryErr, dryOut)
	t.Run("dry run on a fresh host creates nothing", func(t *testing.T) {
		if tx := logs[fresh].read(t, mark).transacts; len(tx) != 0 {
			t.Errorf("dry run sent %d OVSDB transact requests, want none:\n%s", len(tx), strings.Join(tx, "\n"))
		}
		if got := c.vsctl(fresh, "list-br"); got != lab.PhysBridge {
			t.Errorf("bridges after the dry run: %q, want only %s (the lab's)", got, lab.PhysBridge)
		}
		if idemLinkExists(t, c, fresh, "docker0") {
			t.Errorf("docker0 exists after the dry run")
		}
		for _, f := range idemFiles(c, fresh) {
			if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s after the dry run: %v, want it not to exist", f, err)
			}
		}
		for _, want := range []string{"ovsdb: create bridge br0", "ovsdb: create port gre-docker2", "docker0: create bridge docker0",
			"files: write " + idemFiles(c, fresh)[0], "files: write " + idemFiles(c, fresh)[1]} {
			if !slices.ContainsFunc(idemChanges(dryOut), func(l string) bool { return strings.HasPrefix(l, want) }) {
				t.Errorf("the dry run does not list %q", want)
			}
		}
	})

	first := map[string]string{}
	for _, h := range hosts {
		mark := logs[h].mark(t)
		out, err := c.apply(h)
		if err != nil {
			t.Fatalf("first apply on %s: %v\n%s", h, err, out)
		}
		first[h] = out
		// Positive control of the OVSDB detector, and the transactions of a
		// pass that creates the bridge (README, What apply does): the bridge
		// alone, then its tunnels.
		tx := logs[h].read(t, mark).transacts
		if len(tx) != 2 || !strings.Contains(tx[0], `"name":"br0"`) || strings.Contains(tx[0], `"gre-`) || !strings.Contains(tx[1], `"gre-`) {
			t.Errorf("first apply on %s: ovsdb-server received %d transact requests from ovsmesh, want 2, br0 alone, then the tunnels:\n%s", h, len(tx), strings.Join(tx, "\n"))
		}
	}

	t.Run("dry run on a fresh host lists what the first pass did", func(t *testing.T) {
		got, want := idemChanges(dryOut), idemChanges(first[fresh])
		if strings.Contains(dryOut, "failed:") {
			t.Errorf("dry run on a fresh host failed (%v):\n%s", dryErr, dryOut)
		}
		for _, ch := range want {
			if !slices.Contains(got, ch) {
				t.Errorf("the first pass made a change the dry run did not list: %s", ch)
			}
		}
		if s := fmt.Sprintf("%s: would change %d (dry run: nothing changed)", fresh, len(got)); !strings.Contains(dryOut, s) {
			t.Errorf("dry run output lacks %q:\n%s", s, dryOut)
		}
	})

	t.Run("dry run on a converged host changes nothing", func(t *testing.T) {
		w := idemStart(t, c, "docker2", logs["docker2"])
		out, err := c.apply("docker2", "--dry-run")
		seen := w.end(t)
		if err != nil || !strings.Contains(out, "docker2: matches the plan, nothing to change") || len(idemChanges(out)) != 0 {
			t.Errorf("dry run on converged docker2: %v\n%s", err, out)
		}
		seen.wantNothing(t)
	})

	for _, h := range hosts {
		t.Run("second pass on "+h+" writes nothing", func(t *testing.T) {
			w := idemStart(t, c, h, logs[h])
			out, err := c.apply(h)
			seen := w.end(t)
			if err != nil {
				t.Errorf("second apply on %s: %v", h, err)
			}
			if !strings.Contains(out, h+": matches the plan, nothing to change") || len(idemChanges(out)) != 0 {
				t.Errorf("second apply on %s printed:\n%s\nwant no change and %q", h, out, "nothing to change")
			}
			seen.wantNothing(t)
		})
	}

	// Positive control of every detector: the same observation around a pass
	// that repairs a drift in each subsystem sees each repair.
	t.Run("the detectors see a repairing pass", func(t *testing.T) {
		h, ns := "docker3", c.host("docker3").NS
		tun := c.plan(h).OVS.Tunnels[0].Name
		c.vsctl(h, "set", "interface", tun, "options:remote_ip=198.18.0.99")
		c.ofctl(h, "--strict", "del-flows", "br0", "table=2,priority=1")
		idemIP(t, "-n", ns, "link", "set", "docker0", "mtu", "1400")
		dj := idemFiles(c, h)[1]
		if err := os.WriteFile(dj, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		w := idemStart(t, c, h, logs[h])
		out, err := c.apply(h)
		seen := w.end(t)
		if err != nil {
			t.Fatalf("repairing apply on %s: %v\n%s", h, err, out)
		}
		t.Logf("repairing pass on %s:\n%s\nseen: %+v", h, strings.Join(idemChanges(out), "\n"), seen)
		if len(seen.transacts) != 1 {
			t.Errorf("repairing pass: %d transact requests, want 1", len(seen.transacts))
		}
		if !slices.ContainsFunc(seen.flowMods, func(l string) bool { return strings.Contains(l, "table=2") }) {
			t.Errorf("repairing pass: the flow monitor did not see table 2's flow come back: %q", seen.flowMods)
		}
		if !slices.ContainsFunc(seen.linkEvents, func(l string) bool { return strings.Contains(l, "docker0") && strings.Contains(l, "mtu 1462") }) {
			t.Errorf("repairing pass: ip monitor did not see docker0's MTU change: %q", seen.linkEvents)
		}
		if !slices.ContainsFunc(seen.fileWrites, func(l string) bool { return strings.Contains(l, dj) }) {
			t.Errorf("repairing pass: %s was not seen rewritten: %q", dj, seen.fileWrites)
		}
		// And then it is converged again.
		w = idemStart(t, c, h, logs[h])
		out, err = c.apply(h)
		seen = w.end(t)
		if err != nil || len(idemChanges(out)) != 0 {
			t.Errorf("apply after the repair on %s: %v\n%s", h, err, out)
		}
		seen.wantNothing(t)
	})
}
