package controller

import (
	"context"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// TestDriftChangesNothing: Drift names every change a pass would make on a
// fresh host and writes nothing; after a real pass it finds none.
func TestDriftChangesNothing(t *testing.T) {
	r, s, _ := newFake(t, "lab.yaml")
	top, err := topology.Load("../examples/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res := r.Drift(context.Background(), top)
	if !res.Changed() || res.Err() != nil || s.writeCount() != 0 || s.String() != "flows 0\n" {
		t.Errorf("drift of a fresh host: changed=%v err=%v writes=%d state=%q", res.Changed(), res.Err(), s.writeCount(), s)
	}
	if res := r.ApplyTopology(context.Background(), top, false); res.Err() != nil {
		t.Fatal(res.Err())
	}
	writes := s.writeCount()
	if res := r.Drift(context.Background(), top); res.Changed() || res.Err() != nil || s.writeCount() != writes {
		t.Errorf("drift after a pass: changed=%v err=%v writes %d -> %d", res.Changed(), res.Err(), writes, s.writeCount())
	}
}
