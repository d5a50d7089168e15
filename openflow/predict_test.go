package openflow

import (
	"slices"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// checkedTable starts an ovs-vswitchd and returns a Table on its br0 that trusts
// a verification for an hour and records its ovs-ofctl runs, and two tables to
// install: the lab's docker1 and a two-host mesh's.
func checkedTable(t *testing.T) (*testOVS, *recordingRunner, *Table, []topology.Flow, []topology.Flow) {
	t.Helper()
	o := startOVS(t)
	rec := &recordingRunner{}
	tbl := New("br0", testLogger(t), WithRunner(rec), WithTimeout(10*time.Second), WithFullCheckEvery(time.Hour))
	return o, rec, tbl, labFlows(t, "docker1"), twoHostFlows(t)
}

// TestPredictedInstallsWithoutARead: a Table with a recent verification predicts
// it for another wanted table: applying the prediction runs the bundle alone and
// leaves the bridge as wanted. It predicts nothing for the verified table itself
// (a count must check that one) or without WithFullCheckEvery. A flow deleted
// since the verification is not seen by the prediction's bundle; the next read
// counts, dumps and repairs it.
func TestPredictedInstallsWithoutARead(t *testing.T) {
	o, rec, tbl, want, two := checkedTable(t)
	ctx := t.Context()
	if tbl.Predicted(two) != nil {
		t.Fatal("a prediction before anything was verified")
	}
	install := func(name string, r *Reading, want []topology.Flow, wantCmds string) {
		t.Helper()
		if r == nil {
			var err error
			if r, err = tbl.Read(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.Apply(ctx, want, false); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := commands(rec.take()); got != wantCmds {
			t.Errorf("%s: ran %q, want %q", name, got, wantCmds)
		}
	}
	install("first install", nil, want, "dump-flows --bundle")
	if es, err := wantEntries(want); err != nil || !slices.Equal(tbl.verifiedE, asVerified(es)) {
		t.Errorf("the verified table's kept entries differ from its entries (%v)", err)
	}
	if tbl.Predicted(want) != nil {
		t.Error("a prediction of the verified table itself: a count must check it")
	}
	p := tbl.Predicted(two)
	if p == nil {
		t.Fatal("no prediction for another table after a verification")
	}
	install("another table from the prediction", p, two, "--bundle")
	assertTable(t, o, two, nil)
	install("the new table, read", nil, two, "dump-aggregate")

	// Drift since the verification: a flow the two tables share is deleted.
	o.ofctl(t, "--strict", "del-flows", "br0", "cookie="+ourCookie+"/-1,table=2,priority=1")
	install("back from the prediction, which cannot see the drift", tbl.Predicted(want), want, "--bundle")
	install("the read after it repairs the drift", nil, want, "dump-aggregate dump-flows --bundle")
	assertTable(t, o, want, nil)

	plain := New("br0", testLogger(t), WithRunner(rec), WithTimeout(10*time.Second))
	r, err := plain.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Apply(ctx, want, false); err != nil {
		t.Fatal(err)
	}
	rec.take()
	if plain.Predicted(two) != nil {
		t.Error("a prediction without WithFullCheckEvery")
	}
}
