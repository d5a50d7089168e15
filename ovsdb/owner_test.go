package ovsdb

import (
	"errors"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
	"github.com/ovsmesh/ovsmesh/topology"
)

// TestOwnership checks which bridges Apply refuses to change, and the refusals'
// text: a bridge without the owner mark, or with another host's mark, unless the
// operator asked for the take-over.
func TestOwnership(t *testing.T) {
	handMade := newFakeDB().addBridge(vswitchd.Bridge{Name: "br0"}).
		addPort("br0", vswitchd.Port{Name: "br0"}, vswitchd.Interface{Name: "br0", Type: "internal"}).
		addPort("br0", vswitchd.Port{Name: "eth1"}, vswitchd.Interface{Name: "eth1"}).
		addPort("br0", vswitchd.Port{Name: "vnet0"}, vswitchd.Interface{Name: "vnet0"})
	clone := converged(greState(2)).editBridge("br0", func(b *vswitchd.Bridge) {
		b.ExternalIDs = map[string]string{topology.OwnerKey: "docker7"}
	})
	cases := []struct {
		name     string
		have     *fakeDB
		takeOver bool
		is       error
		text     string
	}{
		{name: "no bridge yet", have: newFakeDB()},
		{name: "ours", have: converged(greState(2))},
		{name: "hand-made", have: handMade, is: ErrForeignBridge,
			text: `bridge "br0" was not built by ovsmesh (no external_ids:ovsmesh-owner; its ports: eth1, vnet0): refusing to change it; pass --take-over to adopt it`},
		{name: "hand-made, taken over", have: handMade, takeOver: true},
		{name: "another host's", have: clone, is: ErrOtherOwner,
			text: `bridge "br0" belongs to another host: external_ids:ovsmesh-owner=docker7, and this is "docker1" (is --host right, or is this machine a clone of docker7?); its ports: gre-docker2: refusing to change it; pass --take-over to adopt it`},
		{name: "another host's, taken over", have: clone, takeOver: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ownership(greState(2), snapshotOf(tc.have.t, "br0"), tc.takeOver)
			if tc.is == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.is) {
				t.Fatalf("error %v, want one wrapping %v", err, tc.is)
			}
			checkText(t, "refusal", err.Error(), tc.text)
		})
	}
}

// TestDiffRenamedBridge checks that a bridge this host owns under another name is
// deleted in the same plan that creates the new one, and that its names (the
// tunnels keep theirs) count as free; other hosts' and unmarked bridges stay.
func TestDiffRenamedBridge(t *testing.T) {
	old := greState(2)
	old.Bridge = "br-old"
	have := converged(old).
		addBridge(vswitchd.Bridge{Name: "br-hand"}).
		addBridge(vswitchd.Bridge{Name: "br-other", ExternalIDs: map[string]string{topology.OwnerKey: "docker9"}})
	p := diff(greState(2), snapshotOf(have.t, "br0"))
	if err := errors.Join(p.Errs...); err != nil {
		t.Fatalf("errors: %v", err)
	}
	checkText(t, "lines", strings.Join(p.Lines, "\n"), strings.Join([]string{
		"create bridge br0 datapath_type=netdev fail_mode=secure protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15 rstp_enable=false stp_enable=false",
		"create port br0 type=internal mtu_request=1462",
		"create port gre-docker2 type=gre remote_ip=198.18.0.2 ofport_request=32770",
		"delete bridge br-old and its 2 ports (this host's, no longer in the topology)",
	}, "\n"))
}

// TestRenameBridgeMemory checks against an OVSDB server that one transaction can
// delete the old bridge and create the new one with ports of the same names.
func TestRenameBridgeMemory(t *testing.T) {
	endpoint, _ := memoryServer(t)
	c := connect(t, endpoint, WithoutVSwitchdWait())
	ctx := t.Context()
	old := greState(2, 3)
	old.Bridge = "br-old"
	if _, err := c.Apply(ctx, old, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, greState(2, 3), false); err != nil {
		t.Fatalf("rename: %v", err)
	}
	checkText(t, "database", dump(t, c), strings.Join([]string{
		"bridge br0 datapath_type=netdev fail_mode=secure stp=false rstp=false protocols=[OpenFlow10 OpenFlow13 OpenFlow14 OpenFlow15] ports=3 external_ids={ovsmesh-owner=docker1}",
		"interface br0 type=internal options={} bfd={} ofport_request= mtu_request=1462 external_ids={ovsmesh-owner=docker1}",
		"interface gre-docker2 type=gre options={remote_ip=198.18.0.2} bfd={} ofport_request=32770 mtu_request= external_ids={ovsmesh-owner=docker1}",
		"interface gre-docker3 type=gre options={remote_ip=198.18.0.3} bfd={} ofport_request=32771 mtu_request= external_ids={ovsmesh-owner=docker1}",
		"port br0 interfaces=1 other_config={} external_ids={ovsmesh-owner=docker1}",
		"port gre-docker2 interfaces=1 other_config={} external_ids={ovsmesh-owner=docker1}",
		"port gre-docker3 interfaces=1 other_config={} external_ids={ovsmesh-owner=docker1}",
	}, "\n"))
	if lines, err := c.Apply(ctx, greState(2, 3), false); err != nil || len(lines) > 0 || c.Transactions() != 2 {
		t.Errorf("apply after the rename is not a no-op: %q, %v, %d transactions", lines, err, c.Transactions())
	}
}
