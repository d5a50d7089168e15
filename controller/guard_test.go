package controller

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// fakeGuard answers Check with v.
type fakeGuard struct{ v Verdict }

var _ Guard = (*fakeGuard)(nil)

func (g *fakeGuard) Check(context.Context, topology.HostState) Verdict { return g.v }

// TestGuardRefusalChangesNothing: a refused pass runs no step at all, in a dry
// run too, and the refusal is its only error, under the preflight step.
func TestGuardRefusalChangesNothing(t *testing.T) {
	for _, dry := range []bool{false, true} {
		r, s, _ := newFake(t, "lab.yaml")
		r.Guard = &fakeGuard{Verdict{Refusals: []error{errors.New(`bridge "br0" was not built by ovsmesh`)}}}
		res := r.Once(context.Background(), dry)
		if err := res.Err(); err == nil || err.Error() != `preflight: bridge "br0" was not built by ovsmesh` {
			t.Errorf("dry=%v: err = %v", dry, err)
		}
		if res.Changed() || s.writeCount() != 0 || s.String() != "flows 0\n" {
			t.Errorf("dry=%v: refused pass changed=%v, %d writes, state %q", dry, res.Changed(), s.writeCount(), s)
		}
	}
}

// TestGuardUnavailable: while ovsdb-server cannot be reached, a first pass
// changes nothing (it never verified the bridge), a later one keeps the earlier
// verdict and repairs the rest, and a refusal joined to the outage still refuses.
func TestGuardUnavailable(t *testing.T) {
	r, s, ovs := newFake(t, "lab.yaml")
	g := &fakeGuard{Verdict{Unavailable: fmt.Errorf("check bridge %q: %w", "br0", unreachable{})}}
	r.Guard = g
	if res := r.Once(context.Background(), false); res.Err() == nil || s.writeCount() != 0 {
		t.Fatalf("first pass while unreachable: err %v, %d writes; want a refusal and none", res.Err(), s.writeCount())
	}
	g.v = Verdict{}
	if res := r.Once(context.Background(), false); res.Err() != nil {
		t.Fatalf("verified pass: %v", res.Err())
	}
	g.v, ovs.err = Verdict{Unavailable: unreachable{}}, unreachable{}
	s.mu.Lock()
	s.bridge = nil // docker0 lost during the outage
	s.mu.Unlock()
	res := r.Once(context.Background(), false)
	if s.bridge == nil {
		t.Errorf("docker0 not repaired while ovsdb-server is unreachable: %v", res.Err())
	}
	g.v = Verdict{Unavailable: unreachable{}, Refusals: []error{errors.New(`interface "br0" carries IP addresses`)}}
	writes := s.writeCount()
	s.mu.Lock()
	s.bridge = nil
	s.mu.Unlock()
	if res := r.Once(context.Background(), false); res.Err() == nil || s.writeCount() != writes {
		t.Errorf("refusal during an outage: err %v, writes %d -> %d; want refused, none", res.Err(), writes, s.writeCount())
	}
}

// TestSelfGuardingTableGoesFirst: a mesh table (no NORMAL) is installed before
// OVSDB changes the bridge, so that a switch from stp never runs the old NORMAL
// table without STP; a NORMAL table (stp, or a switch to it) goes after OVSDB,
// which turns STP on first.
func TestSelfGuardingTableGoesFirst(t *testing.T) {
	for _, tc := range []struct {
		example string
		order   string
	}{
		{"lab.yaml", "flows ovsdb"},         // mesh
		{"classic-gre.yaml", "ovsdb flows"}, // stp
	} {
		r, s, _ := newFake(t, tc.example)
		if res := r.Once(context.Background(), false); res.Err() != nil {
			t.Fatalf("%s: %v", tc.example, res.Err())
		}
		if got := fmt.Sprint(s.order); got != "["+tc.order+"]" {
			t.Errorf("%s: writes in the order %s, want [%s]", tc.example, got, tc.order)
		}
	}
}

// TestOutageRepairsDocker0WithoutWaitingForTheFlows: while ovsdb-server is
// unreachable (the Guard keeps the last verdict), a pass repairs docker0
// without first waiting earlyReadWait for a flow reading that does not come:
// OVSDB changes nothing then, so no table has to go in before it.
func TestOutageRepairsDocker0WithoutWaitingForTheFlows(t *testing.T) {
	r, s, ovs := newFake(t, "lab.yaml")
	g := &fakeGuard{}
	r.Guard = g
	if res := r.Once(context.Background(), false); res.Err() != nil {
		t.Fatalf("verified pass: %v", res.Err())
	}
	g.v, ovs.err, r.Flows = Verdict{Unavailable: unreachable{}}, unreachable{}, &blockingFlows{fakeFlows: &fakeFlows{s}}
	s.mu.Lock()
	s.bridge = nil // docker0 lost during the outage
	s.mu.Unlock()
	start := time.Now()
	res := r.Once(context.Background(), false)
	took := time.Since(start)
	s.mu.Lock()
	repaired := s.bridge != nil
	s.mu.Unlock()
	if !repaired || took >= earlyReadWait {
		t.Errorf("docker0 repaired %v, the pass took %v (earlyReadWait %v): want repaired without the wait; %v", repaired, took, earlyReadWait, res.Err())
	}
}
