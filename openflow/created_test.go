package openflow

import (
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// TestCreatedBridgeGetsThePreparedBundle: a reading of a missing bridge gives a
// reading of the bridge as created, with want's bundle computed in advance.
// Applied once the bridge exists, it sends that bundle alone (no dump), whose
// text is the one go-openvswitch writes for the same flows, and the bridge then
// holds want. Another wanted table is computed on the spot. A reading of a bridge
// that exists gives none.
func TestCreatedBridgeGetsThePreparedBundle(t *testing.T) {
	o, rec, tbl, want, two := checkedTable(t)
	ctx := t.Context()

	// The bundle go-openvswitch writes for want, on the bridge as it exists.
	r, err := tbl.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Created(want) != nil {
		t.Error("a reading of a bridge that exists gave a reading as created")
	}
	if _, err := r.Apply(ctx, want, false); err != nil {
		t.Fatal(err)
	}
	library := bundleText(t, rec.take())

	for _, tc := range []struct {
		name  string
		apply []topology.Flow // the table applied to the created bridge's reading
	}{{"the prepared table", want}, {"another table", two}} {
		o.Run(t, "ovs-vsctl", "--db="+o.DB(), "--timeout=30", "del-br", "br0")
		r, err := tbl.Read(ctx)
		if err != nil || r.noBridge == nil {
			t.Fatalf("%s: read of the deleted bridge: %v, %v", tc.name, r, err)
		}
		created := r.Created(want)
		if created == nil || created.prepared == nil {
			t.Fatalf("%s: no reading as created, or nothing prepared", tc.name)
		}
		rec.take()
		o.Run(t, "ovs-vsctl", "--db="+o.DB(), "--timeout=30", "--", "add-br", "br0",
			"--", "set", "Bridge", "br0", "datapath_type=netdev", "fail_mode=secure",
			"protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15")
		changes, err := created.Apply(ctx, tc.apply, false)
		if err != nil || len(changes) != len(tc.apply) {
			t.Fatalf("%s: %d changes for %d flows, err %v", tc.name, len(changes), len(tc.apply), err)
		}
		cmds := rec.take()
		if got := commands(cmds); got != "--bundle" {
			t.Errorf("%s: ran %q, want the bundle alone", tc.name, got)
		}
		if tc.name == "the prepared table" {
			if got := bundleText(t, cmds); got != library {
				t.Errorf("the prepared bundle:\n%s\ndiffers from go-openvswitch's:\n%s", got, library)
			}
		}
		assertTable(t, o, tc.apply, nil)
	}
}

// bundleText is the stdin of the one bundle among cmds.
func bundleText(t *testing.T, cmds []string) string {
	t.Helper()
	for _, c := range cmds {
		if strings.Contains(c, " --bundle ") {
			_, text, _ := strings.Cut(c, "\n")
			return text
		}
	}
	t.Fatalf("no bundle among %q", cmds)
	return ""
}
