package ovsdb

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// TestApplyBridgeFirstReal: on a real ovsdb-server and ovs-vswitchd, a missing
// bridge goes in alone first: when created is called, ovs-vswitchd has the
// bridge (ovs-ofctl reads its empty table) and the database none of its tunnels
// yet; then the tunnels follow, and the lines are those one Apply would have
// made. A bridge that exists, and a bridge renamed (the old one is deleted in
// the same transaction that creates the new one's tunnels), go in one
// transaction, without created.
func TestApplyBridgeFirstReal(t *testing.T) {
	testenv.SkipShort(t, "root, Open vSwitch and network namespaces")
	h := lab.NewT(t, lab.HostSpec{Name: "docker1"}).Host("docker1")
	ctx := t.Context()
	c := connect(t, h.DB())
	want := greState(2, 3, 4)
	planned, err := c.Apply(ctx, want, true)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	created := func() {
		calls++
		if out, err := h.Run(ctx, "ovs-ofctl", "-O", "OpenFlow14", "--no-names", "dump-flows", "br0"); err != nil || strings.Contains(out, "cookie=") {
			t.Errorf("when created is called: ovs-ofctl dump-flows br0: %q, %v; want an empty table", out, err)
		}
		if out, err := h.Run(ctx, "ovs-vsctl", "--db="+h.DB(), "list-ports", "br0"); err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("when created is called: ports of br0: %q, %v; want none yet", out, err)
		}
	}
	lines, err := c.ApplyBridgeFirst(ctx, want, created)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || c.Transactions() != 2 {
		t.Errorf("missing bridge: created called %d times, %d transactions; want 1 and 2", calls, c.Transactions())
	}
	if !slices.Equal(lines, planned) {
		t.Errorf("lines:\n%s\nwant those of one Apply:\n%s", strings.Join(lines, "\n"), strings.Join(planned, "\n"))
	}
	if out, err := h.Run(ctx, "ovs-vsctl", "--db="+h.DB(), "list-ports", "br0"); err != nil || strings.Fields(out)[0] != "gre-docker2" || len(strings.Fields(out)) != 3 {
		t.Errorf("ports of br0 after: %q, %v; want the 3 tunnels", out, err)
	}

	want.Tunnels = want.Tunnels[:2]
	if lines, err = c.ApplyBridgeFirst(ctx, want, created); err != nil || calls != 1 || c.Transactions() != 3 || len(lines) != 1 {
		t.Errorf("existing bridge: %q, %v, created called %d times, %d transactions; want one line, no call, one transaction", lines, err, calls, c.Transactions())
	}
	renamed := want
	renamed.Bridge = "br1"
	if lines, err = c.ApplyBridgeFirst(ctx, renamed, created); err != nil || calls != 1 || c.Transactions() != 4 || !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "delete bridge br0") }) {
		t.Errorf("bridge renamed: %q, %v, created called %d times, %d transactions; want br0 deleted, no call, one transaction", lines, err, calls, c.Transactions())
	}
}

// TestApplyBridgeFirstVSwitchdLate: when ovs-vswitchd does not apply the
// bridge's transaction in time (stopped with SIGSTOP), created is not called,
// and the tunnels still go in the same call, as one Apply would have sent
// them, with the timeout reported.
func TestApplyBridgeFirstVSwitchdLate(t *testing.T) {
	testenv.SkipShort(t, "root, Open vSwitch and network namespaces")
	h := lab.NewT(t, lab.HostSpec{Name: "docker1"}).Host("docker1")
	c := connect(t, h.DB(), WithVSwitchdTimeout(time.Second))
	_, vswitchd := h.Pids()
	if err := syscall.Kill(vswitchd, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(vswitchd, syscall.SIGCONT) })
	calls := 0
	lines, err := c.ApplyBridgeFirst(t.Context(), greState(2, 3), func() { calls++ })
	if err == nil || !strings.Contains(err.Error(), "ovs-vswitchd did not apply") {
		t.Errorf("error: %v; want ovs-vswitchd's timeout", err)
	}
	if calls != 0 || c.Transactions() != 2 {
		t.Errorf("created called %d times, %d transactions; want none and 2", calls, c.Transactions())
	}
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "create bridge br0") {
		t.Errorf("lines:\n%s\nwant the bridge, its internal port and the 2 tunnels", strings.Join(lines, "\n"))
	}
	out, err := h.Run(t.Context(), "ovs-vsctl", "--db="+h.DB(), "--no-wait", "list-ports", "br0")
	if err != nil || strings.Join(strings.Fields(out), " ") != "gre-docker2 gre-docker3" {
		t.Errorf("ports of br0 in the database: %q, %v; want the 2 tunnels", out, err)
	}
}
