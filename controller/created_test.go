package controller

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// creatingFlows is predictingFlows whose bridge does not exist until OVSDB was
// written: a reading of it then is a Creator.
type creatingFlows struct{ predictingFlows }

func (c *creatingFlows) Read(ctx context.Context, bridge string) (FlowTable, error) {
	c.s.mu.Lock()
	absent := c.s.ovs == nil
	c.s.mu.Unlock()
	if !absent {
		return c.predictingFlows.Read(ctx, bridge)
	}
	c.note("read")
	return absentTable{c}, nil
}

// absentTable is the reading of a bridge that does not exist; createdTable the
// reading of it as created.
type (
	absentTable  struct{ c *creatingFlows }
	createdTable struct{ c *creatingFlows }
)

func (t absentTable) Apply(ctx context.Context, want []topology.Flow, dry bool) ([]string, error) {
	if !dry {
		return nil, errors.New("bridge br0 does not exist")
	}
	return t.c.fakeFlows.Apply(ctx, want, dry)
}

func (t absentTable) Created(want []topology.Flow) FlowTable {
	t.c.note("created")
	return createdTable(t)
}

func (t createdTable) Apply(ctx context.Context, want []topology.Flow, dry bool) ([]string, error) {
	t.c.note("apply-created")
	return t.c.fakeFlows.Apply(ctx, want, dry)
}

// bridgeOVS is fakeOVS that reports the bridge's creation as the ovsdb adapter
// does, unless quiet.
type bridgeOVS struct {
	*fakeOVS
	quiet bool
}

func (b *bridgeOVS) Apply(ctx context.Context, want topology.OVSState, dry bool) ([]string, error) {
	b.s.mu.Lock()
	fresh := b.s.ovs == nil
	b.s.mu.Unlock()
	changes, err := b.fakeOVS.Apply(ctx, want, dry)
	if fresh && !b.quiet && err == nil {
		changes = append([]string{"create bridge " + want.Bridge + " fail_mode=secure"}, changes...)
	}
	return changes, err
}

// TestCreatedBridgeIsNotReadAgain: a host's first pass, whose OVSDB step created
// the bridge, installs the table from the reading as created, without a second
// read. When OVSDB's changes do not say it created the bridge (someone else
// did), the bridge is read again; a dry run never asks for the reading as
// created.
func TestCreatedBridgeIsNotReadAgain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		quiet bool
		dry   bool
		calls string
	}{
		{"created", false, false, "no-prediction read created apply-created"},
		{"not created by OVSDB", true, false, "no-prediction read created read apply-read"},
		{"dry run", false, true, "read read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, s, ovs := newFake(t, "lab.yaml")
			cf := &creatingFlows{predictingFlows{fakeFlows: fakeFlows{s}}}
			r.Flows, r.OVS = cf, &bridgeOVS{fakeOVS: ovs, quiet: tc.quiet}
			res := r.Once(context.Background(), tc.dry)
			if res.Err() != nil {
				t.Fatal(res.Err())
			}
			if got := cf.take(); got != tc.calls {
				t.Errorf("calls: %s; want %s", got, tc.calls)
			}
			if want := "flows 56\n"; !tc.dry && !strings.Contains(s.String(), want) {
				t.Errorf("state after the pass:\n%s\nwant %q", s, want)
			}
		})
	}
}
