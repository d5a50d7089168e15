package ovsdb

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/internal/testenv"
	"github.com/ovsmesh/ovsmesh/topology"
)

// portChanges are how the controller's OVS contract says lines about ports and
// interfaces begin; the controller keeps a reading of the flow table across such
// changes (controller.OVS).
var portChanges = []string{"create port ", "create interface ", "recreate port ", "delete port ", "update port ", "update interface "}

// TestPortChangesKeepTheFlows: on a real ovs-vswitchd, every way Apply changes a
// tunnel port (deleted, created, recreated after someone deleted it, options,
// type, the bridge's MTU) is reported with a line about a port or interface, and
// leaves every flow of the bridge as it was, flows that name the ports included.
func TestPortChangesKeepTheFlows(t *testing.T) {
	testenv.SkipShort(t, "root, Open vSwitch and network namespaces")
	h := lab.NewT(t, lab.HostSpec{Name: "docker1"}).Host("docker1")
	ctx := t.Context()
	run := func(args ...string) string {
		t.Helper()
		out, err := h.Run(ctx, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	c := connect(t, h.DB())
	want := greState(2, 3, 4)
	if _, err := c.Apply(ctx, want, false); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{
		"cookie=0x6f76,table=0,priority=100,in_port=32770,actions=output:32771",
		"cookie=0x6f76,table=0,priority=100,in_port=32772,actions=output:32770",
		"cookie=0x6f76,table=1,priority=100,ip,nw_dst=172.17.48.0/20,actions=output:32772",
	} {
		run("ovs-ofctl", "-O", "OpenFlow14", "add-flow", "br0", f)
	}
	flows := func() string {
		t.Helper()
		out := strings.Split(strings.TrimSpace(run("ovs-ofctl", "-O", "OpenFlow14", "--no-stats", "dump-flows", "br0")), "\n")
		slices.Sort(out)
		return strings.Join(out, "\n")
	}
	before := flows()
	if strings.Count(before, "cookie=0x6f76") != 3 {
		t.Fatalf("flows installed:\n%s", before)
	}
	vxlan := greState(2, 3, 4)
	vxlan.Tunnels[2].Type = topology.EncapVXLAN
	mtu := greState(2, 3, 4)
	mtu.MTU = 1400
	options := greState(2, 3, 4)
	options.Tunnels[0].Key = "7"
	for _, step := range []struct {
		name  string
		hand  []string // run before the apply
		state topology.OVSState
	}{
		{"tunnel removed", nil, greState(2, 3)},
		{"tunnel added", nil, greState(2, 3, 4)},
		{"tunnel deleted by hand", []string{"ovs-vsctl", "--db=" + h.DB(), "del-port", "br0", "gre-docker3"}, greState(2, 3, 4)},
		{"tunnel options", nil, options},
		{"tunnel type", nil, vxlan},
		{"bridge MTU", nil, mtu},
	} {
		if step.hand != nil {
			run(step.hand...)
		}
		// A change by hand reaches the client's cache through its monitor: apply
		// until it is seen.
		var lines []string
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			lines, err = c.Apply(ctx, step.state, false)
			if err != nil || len(lines) > 0 || step.hand == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if len(lines) == 0 {
			t.Errorf("%s: no change", step.name)
		}
		for _, l := range lines {
			if !slices.ContainsFunc(portChanges, func(p string) bool { return strings.HasPrefix(l, p) }) {
				t.Errorf("%s: line %q is not about a port or interface", step.name, l)
			}
		}
		if got := flows(); got != before {
			t.Errorf("%s (%s): flows changed from\n%s\nto\n%s", step.name, strings.Join(lines, "; "), before, got)
		}
	}
}
