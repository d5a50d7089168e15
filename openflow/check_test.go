package openflow

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// commands names the ovs-ofctl commands run, e.g. "dump-aggregate dump-flows".
func commands(cmds []string) string {
	var out []string
	for _, c := range cmds {
		for _, w := range []string{"dump-aggregate", "dump-flows", "--bundle"} {
			if strings.Contains(c, " "+w+" ") {
				out = append(out, w)
			}
		}
	}
	return strings.Join(out, " ")
}

// TestFullCheckEvery: with WithFullCheckEvery, a table verified by a whole dump is
// then only counted; a changed count dumps and repairs at once, a flow modified in
// place waits for the next whole dump, and another wanted table is installed from
// the verified one (strict deletes of its identities) without a dump.
func TestFullCheckEvery(t *testing.T) {
	o := startOVS(t)
	ctx := t.Context()
	rec := &recordingRunner{}
	const every = 5 * time.Second
	tbl := New("br0", testLogger(t), WithRunner(rec), WithTimeout(10*time.Second), WithFullCheckEvery(every))
	want := labFlows(t, "docker1")
	apply := func(want []topology.Flow) []string {
		t.Helper()
		r, err := tbl.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		changes, err := r.Apply(ctx, want, false)
		if err != nil {
			t.Fatal(err)
		}
		return changes
	}
	step := func(name string, want []topology.Flow, wantCmds string, wantChanges int) {
		t.Helper()
		changes := apply(want)
		if got := commands(rec.take()); got != wantCmds || len(changes) != wantChanges {
			t.Errorf("%s: ran %q with %d changes, want %q with %d", name, got, len(changes), wantCmds, wantChanges)
		}
	}
	step("first install", want, "dump-flows --bundle", len(want))
	step("installed from a whole dump: only counted", want, "dump-aggregate", 0)

	o.ofctl(t, "--strict", "del-flows", "br0", "cookie="+ourCookie+"/-1,table=2,priority=1")
	step("a deleted flow changes the count", want, "dump-aggregate dump-flows --bundle", 1)
	verified := time.Now() // no earlier than the dump of that repair
	step("repaired: only counted", want, "dump-aggregate", 0)

	// Modified in place: the count stays, so only the next whole dump sees it.
	o.ofctl(t, "--strict", "mod-flows", "br0", "cookie="+ourCookie+"/-1,table=2,priority=1,actions=drop")
	step("a flow modified in place is missed by the count", want, "dump-aggregate", 0)
	if !slices.ContainsFunc(o.flows(t), func(f dumpedFlow) bool { return f.text == "table=2,priority=1,actions=drop" }) {
		t.Fatal("the modified flow is not on the bridge: the test proves nothing")
	}
	time.Sleep(time.Until(verified.Add(every)))
	step("after the interval, a whole dump repairs it (add the flow, drop the modified one)", want, "dump-flows --bundle", 2)
	dumped := time.Now()
	assertTable(t, o, want, nil)
	step("repaired again: only counted", want, "dump-aggregate", 0)

	// One reading applied twice (a pass's self-guarding install, then its
	// flow step) counts once.
	r, err := tbl.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if changes, err := r.Apply(ctx, want, false); err != nil || changes != nil {
			t.Fatalf("Apply = %q, %v", changes, err)
		}
	}
	if got := commands(rec.take()); got != "dump-aggregate" {
		t.Errorf("one reading applied twice ran %q, want one count", got)
	}

	two := twoHostFlows(t)
	changes := apply(two)
	if got := commands(rec.take()); got != "dump-aggregate --bundle" || len(changes) == 0 {
		t.Errorf("another wanted table: ran %q with %d changes, want a count and a bundle computed from the verified table", got, len(changes))
	}
	assertTable(t, o, two, nil)
	step("the new table: only counted", two, "dump-aggregate", 0)
	// A table changed from a count keeps the period of the last dump.
	time.Sleep(time.Until(dumped.Add(every)))
	step("a whole dump once the period of the last one is over", two, "dump-flows", 0)
}

// noBridgeRunner fails every ovs-ofctl run as ovs-ofctl does for a missing bridge,
// and records the commands.
type noBridgeRunner struct{ cmds []string }

func (r *noBridgeRunner) Run(_ context.Context, _ io.Reader, name string, args ...string) ([]byte, error) {
	r.cmds = append(r.cmds, name+" "+strings.Join(args, " ")+" ")
	return []byte("ovs-ofctl: br0 is not a bridge or a socket"), errors.New("exit status 1")
}

// TestFullCheckForgetsAMissingBridge: a Table whose bridge disappeared forgets
// what it verified, so that the bridge created again is dumped, not counted.
func TestFullCheckForgetsAMissingBridge(t *testing.T) {
	rec := &noBridgeRunner{}
	tbl := New("br0", testLogger(t), WithRunner(rec), WithFullCheckEvery(time.Hour))
	es, err := wantEntries([]topology.Flow{fDrop})
	if err != nil {
		t.Fatal(err)
	}
	tbl.verify([]topology.Flow{fDrop}, es, true)
	for i, want := range []string{"dump-aggregate dump-flows", "dump-flows"} {
		r, err := tbl.Read(t.Context())
		if err != nil || r.noBridge == nil {
			t.Fatalf("read %d: %v, %v; want a reading of a missing bridge", i+1, r, err)
		}
		if got := commands(rec.cmds); got != want {
			t.Errorf("read %d ran %q, want %q", i+1, got, want)
		}
		rec.cmds = nil
	}
}
