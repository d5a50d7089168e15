package ovsdb

import (
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// TestNetworkPortsMemory: a Docker network's internal port is created with the
// bridge's MTU and its pinned OpenFlow port, a second apply sends nothing, and
// it goes when the network leaves the topology.
func TestNetworkPortsMemory(t *testing.T) {
	endpoint, _ := memoryServer(t)
	c := connect(t, endpoint, WithoutVSwitchdWait())
	ctx := t.Context()
	want := greState(2)
	want.Internal = []topology.InternalPort{{Name: "ov-app", OFPort: 32700}}
	lines, err := c.Apply(ctx, want, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "create port ov-app type=internal ofport_request=32700 mtu_request=1462") {
		t.Errorf("first apply: %q", lines)
	}
	if !strings.Contains(dump(t, c), "interface ov-app type=internal options={} bfd={} ofport_request=32700 mtu_request=1462 external_ids={ovsmesh-owner=docker1}") {
		t.Errorf("database:\n%s", dump(t, c))
	}
	if lines, err := c.Apply(ctx, want, false); err != nil || len(lines) > 0 || c.Transactions() != 1 {
		t.Errorf("second apply: %q, %v, %d transactions", lines, err, c.Transactions())
	}
	lines, err = c.Apply(ctx, greState(2), false)
	if err != nil || !strings.Contains(strings.Join(lines, "\n"), "delete port ov-app") {
		t.Errorf("network removed: %q, %v", lines, err)
	}
	if strings.Contains(dump(t, c), "ov-app") {
		t.Errorf("ov-app still there:\n%s", dump(t, c))
	}
}
