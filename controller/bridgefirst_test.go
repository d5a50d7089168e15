package controller

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// bridgeFirstOVS is bridgeOVS that is a BridgeFirst: a bridge it does not have
// goes in alone, then created is called, then the rest. Before the rest it
// waits (1 s at most) for the created table's install, and records whether it
// came (the table went in beside OVSDB's ports, not after them).
type bridgeFirstOVS struct {
	*bridgeOVS
	cf      *creatingFlows
	beside  bool
	applied int // Apply calls (not through ApplyBridgeFirst)
}

var _ BridgeFirst = (*bridgeFirstOVS)(nil)

func (b *bridgeFirstOVS) Apply(ctx context.Context, want topology.OVSState, dry bool) ([]string, error) {
	b.applied++
	return b.bridgeOVS.Apply(ctx, want, dry)
}

func (b *bridgeFirstOVS) ApplyBridgeFirst(ctx context.Context, want topology.OVSState, created func()) ([]string, error) {
	b.s.mu.Lock()
	missing := b.s.ovs == nil
	b.s.mu.Unlock()
	if !missing {
		return b.bridgeOVS.Apply(ctx, want, false)
	}
	alone := want
	alone.Tunnels = nil
	lines, err := b.bridgeOVS.Apply(ctx, alone, false)
	if err != nil {
		return lines, err
	}
	created()
	for end := time.Now().Add(time.Second); time.Now().Before(end) && !b.beside; time.Sleep(time.Millisecond) {
		b.cf.mu.Lock()
		b.beside = strings.Contains(strings.Join(b.cf.calls, " "), "apply-created")
		b.cf.mu.Unlock()
	}
	more, err := b.bridgeOVS.Apply(ctx, want, false)
	return append(lines, more...), err
}

// failingCreated is creatingFlows whose table as created cannot be installed.
type failingCreated struct{ *creatingFlows }

func (f failingCreated) Read(ctx context.Context, bridge string) (FlowTable, error) {
	t, err := f.creatingFlows.Read(ctx, bridge)
	if a, ok := t.(absentTable); ok {
		return failingAbsent{a}, err
	}
	return t, err
}

type failingAbsent struct{ absentTable }

func (a failingAbsent) Created(want []topology.Flow) FlowTable {
	a.c.note("created")
	return failingTable{a.c}
}

type failingTable struct{ c *creatingFlows }

func (t failingTable) Apply(context.Context, []topology.Flow, bool) ([]string, error) {
	t.c.note("apply-created")
	return nil, errors.New("bundle refused")
}

// TestCreatedTableGoesInBesideThePorts: on a host's first pass, an OVS that is
// a BridgeFirst creates the bridge alone, and the table as created goes in
// while OVSDB adds the tunnels, not after; the flows step reports its changes
// and reads nothing after OVSDB. When that install fails, the flows step reads
// the bridge and installs from that reading, in the same pass. A dry run, and
// a second pass (the bridge exists), go through Apply alone.
func TestCreatedTableGoesInBesideThePorts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fail  bool
		calls string
	}{
		{"created table installed", false, "no-prediction read created apply-created"},
		{"its install failed", true, "no-prediction read created apply-created read apply-read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, s, ovs := newFake(t, "lab.yaml")
			cf := &creatingFlows{predictingFlows{fakeFlows: fakeFlows{s}}}
			bf := &bridgeFirstOVS{bridgeOVS: &bridgeOVS{fakeOVS: ovs}, cf: cf}
			r.OVS, r.Flows = bf, cf
			if tc.fail {
				r.Flows = failingCreated{cf}
			}
			if res := r.Once(context.Background(), true); res.Err() != nil || bf.applied != 1 {
				t.Fatalf("dry run: %v, %d Apply calls; want 1", res.Err(), bf.applied)
			}
			cf.take()
			res := r.Once(context.Background(), false)
			if res.Err() != nil {
				t.Fatal(res.Err())
			}
			if !bf.beside {
				t.Error("the table as created was not installed while OVSDB added the ports (waited 1 s)")
			}
			if got := cf.take(); got != tc.calls {
				t.Errorf("calls: %s; want %s", got, tc.calls)
			}
			if flows := res.changes(StepFlows); !slices.Equal(flows, []string{"set flows"}) {
				t.Errorf("flows step's changes: %q, want the fake's one line", flows)
			}
			ovsdb := strings.Join(res.changes(StepOVSDB), "\n")
			if !strings.HasPrefix(ovsdb, "create bridge br0") || !strings.Contains(ovsdb, "create port gre-docker2") {
				t.Errorf("ovsdb step's changes: %s; want the bridge's, then the ports'", ovsdb)
			}
			if want := "flows 56\n"; !strings.Contains(s.String(), want) {
				t.Errorf("state after the pass:\n%s\nwant %q", s, want)
			}
			if res := r.Once(context.Background(), false); res.Err() != nil || res.Changed() {
				t.Errorf("second pass: changed %v, %v", res.Changed(), res.Err())
			}
			if got := cf.take(); strings.Contains(got, "created") {
				t.Errorf("second pass calls: %s; want no table as created", got)
			}
		})
	}
}
