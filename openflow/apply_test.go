package openflow

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

const (
	ourCookie     = "0x6f76736d657368"
	foreignCookie = "0x1"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func flowTexts(flows []topology.Flow) []string {
	var out []string
	for _, f := range flows {
		out = append(out, f.String())
	}
	slices.Sort(out)
	return out
}

func addLines(flows []topology.Flow) []string {
	var out []string
	for _, f := range flows {
		out = append(out, "add flow "+f.String())
	}
	return out
}

// TestApplyRealOVS installs the lab's table of docker1 on a real ovs-vswitchd and
// checks the flows as vswitchd prints them, that a second Apply sends nothing, that
// drift is repaired, that a removed peer's flows are deleted alone (strictly) in
// one bundle, that an unreadable flow still means a full replace, and that a
// foreign flow is never touched.
func TestApplyRealOVS(t *testing.T) {
	o, rec, tbl, foreign := startWithForeignFlow(t)
	ctx := t.Context()
	if want := []string{"table=0,priority=5,actions=drop"}; !slices.Equal(foreign, want) {
		t.Fatalf("foreign flow = %q, want %q", foreign, want)
	}

	want := labFlows(t, "docker1")
	changes, err := tbl.Apply(ctx, want, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(changes, addLines(want)) {
		t.Errorf("first Apply changes:\n%s\nwant one add per flow", strings.Join(changes, "\n"))
	}
	if w := writes(rec.take()); len(w) != 1 {
		t.Errorf("first Apply sent %d flow modifications, want 1 bundle:\n%s", len(w), strings.Join(w, "\n"))
	}
	assertTable(t, o, want, foreign)

	// Second Apply: nothing to do, nothing sent, and the flows were not
	// reinstalled (their age keeps growing).
	time.Sleep(1100 * time.Millisecond)
	t.Run("second apply sends nothing", func(t *testing.T) {
		changes, err := tbl.Apply(ctx, want, false)
		if err != nil || changes != nil {
			t.Fatalf("Apply = %q, %v; want no changes", changes, err)
		}
		cmds := rec.take()
		if w := writes(cmds); len(w) != 0 || len(cmds) != 1 {
			t.Errorf("second Apply ran %q, want one dump-flows and no write", cmds)
		}
		assertAged(t, o, 1, nil)
	})

	t.Run("hand-deleted flow comes back alone", func(t *testing.T) {
		gone := topology.Flow{Table: 1, Priority: 100, Proto: "arp", ArpTPA: "172.17.0.2", Actions: []string{"output:32770"}}
		if !slices.ContainsFunc(want, gone.Equal) {
			t.Fatalf("lab table lacks %s", gone)
		}
		o.ofctl(t, "del-flows", "--strict", "br0", "cookie="+ourCookie+"/-1,table=1,priority=100,arp,arp_tpa=172.17.0.2")
		dry, err := tbl.Apply(ctx, want, true)
		if err != nil {
			t.Fatal(err)
		}
		wantChanges := []string{"add flow " + gone.String()}
		if !slices.Equal(dry, wantChanges) {
			t.Errorf("dry run = %q, want %q", dry, wantChanges)
		}
		if w := writes(rec.take()); len(w) != 0 {
			t.Errorf("dry run wrote %q", w)
		}
		changes, err := tbl.Apply(ctx, want, false)
		if err != nil || !slices.Equal(changes, wantChanges) {
			t.Fatalf("Apply = %q, %v; want %q", changes, err, wantChanges)
		}
		w := writes(rec.take())
		if len(w) != 1 || strings.Contains(w[0], "\ndelete") || strings.Count(w[0], "\nadd ") != 1 {
			t.Errorf("repair sent %q, want one bundle with one add", w)
		}
		assertTable(t, o, want, foreign)
		// Only the lost flow is new: the others kept their counters and age.
		assertAged(t, o, 1, &gone)
	})

	t.Run("a hand-added flow with our cookie is deleted strictly", func(t *testing.T) {
		// Without -O, ovs-ofctl also sets reset_counts, a flag ovsmesh never sets.
		o.ofctl(t, "add-flow", "br0", "cookie="+ourCookie+",table=1,priority=7,tcp,nw_dst=10.1.0.0/16,tp_dst=80,actions=drop")
		changes, err := tbl.Apply(ctx, want, false)
		if err != nil || len(changes) != 1 || !strings.HasPrefix(changes[0], "delete flow table=1,priority=7,") {
			t.Fatalf("Apply = %q, %v; want one delete", changes, err)
		}
		w := writes(rec.take())
		if len(w) != 1 || !strings.Contains(w[0], "\ndelete_strict table=1,priority=7,tcp,nw_dst=10.1.0.0/16,tp_dst=80,cookie=0x6f76736d657368/-1\n") {
			t.Errorf("sent %q, want one bundle with that strict delete", w)
		}
		assertTable(t, o, want, foreign)
	})

	t.Run("a removed peer's flows go alone, in one bundle", func(t *testing.T) {
		two := twoHostFlows(t)
		time.Sleep(1100 * time.Millisecond) // the repaired flow ages too
		changes, err := tbl.Apply(ctx, two, false)
		if err != nil {
			t.Fatal(err)
		}
		// docker3's flows go and the flood flow changes: adds and deletes.
		var wantChanges []string
		for _, f := range two {
			if !slices.ContainsFunc(want, f.Equal) {
				wantChanges = append(wantChanges, "add flow "+f.String())
			}
		}
		var dels []string
		for _, f := range want {
			if !slices.ContainsFunc(two, f.Equal) {
				dels = append(dels, "delete flow "+f.String())
			}
		}
		slices.Sort(dels)
		wantChanges = append(wantChanges, dels...)
		if len(wantChanges) < 2 || !slices.Equal(changes, wantChanges) {
			t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(changes, "\n"), strings.Join(wantChanges, "\n"))
		}
		w := writes(rec.take())
		if len(w) != 1 || !strings.Contains(w[0], "\ndelete_strict table=") || strings.Contains(w[0], "\ndelete ") ||
			strings.Count(w[0], "\nadd ") >= len(two)/2 {
			t.Errorf("sent %q, want one bundle of strict deletes and the few adds", w)
		}
		assertTable(t, o, two, foreign)
		// The flows both tables share were not reinstalled.
		for _, f := range o.flows(t) {
			if f.cookie == ourCookie && slices.ContainsFunc(want, func(w topology.Flow) bool { return w.String() == f.text }) && f.duration < 1 {
				t.Errorf("flow %s is %.3fs old: it was reinstalled", f.text, f.duration)
			}
		}
		if again, err := tbl.Apply(ctx, two, false); err != nil || again != nil {
			t.Errorf("Apply after the removal = %q, %v; want no changes", again, err)
		}
	})

	t.Run("an unreadable flow means a full replace in one bundle", func(t *testing.T) {
		two := twoHostFlows(t)
		// vswitchd prints nothing dumpEntries cannot read: give the reading one.
		r, err := tbl.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r.have = append(r.have, unreadable("garbage"))
		if _, err := r.Apply(ctx, two, false); err != nil {
			t.Fatal(err)
		}
		w := writes(rec.take())
		if len(w) != 1 || !strings.Contains(w[0], "\ndelete cookie=0x006f76736d657368/0xffffffffffffffff\n") {
			t.Errorf("replace sent %q, want one bundle starting with a delete of our cookie", w)
		}
		assertTable(t, o, two, foreign)
	})

	t.Run("stp table with NORMAL", func(t *testing.T) {
		stp := loadFlows(t, "../examples/classic-gre.yaml", "docker1")
		if _, err := tbl.Apply(ctx, stp, false); err != nil {
			t.Fatal(err)
		}
		assertTable(t, o, stp, foreign)
		if again, err := tbl.Apply(ctx, stp, false); err != nil || again != nil {
			t.Errorf("second Apply = %q, %v; want no changes", again, err)
		}
	})
}

// startWithForeignFlow starts an ovs-vswitchd whose br0 holds one flow with
// another cookie (returned as dumped) and a Table on br0 that records its commands.
func startWithForeignFlow(t *testing.T) (*testOVS, *recordingRunner, *Table, []string) {
	t.Helper()
	o := startOVS(t)
	rec := &recordingRunner{}
	tbl := New("br0", testLogger(t), WithRunner(rec), WithTimeout(10*time.Second))
	o.ofctl(t, "add-flow", "br0", "cookie=0x1,priority=5,actions=drop")
	return o, rec, tbl, texts(o.flows(t), foreignCookie)
}

// assertTable checks br0's flows as vswitchd prints them: ours are exactly want,
// the foreign ones are unchanged.
func assertTable(t *testing.T, o *testOVS, want []topology.Flow, foreign []string) {
	t.Helper()
	flows := o.flows(t)
	if got := texts(flows, ourCookie); !slices.Equal(got, flowTexts(want)) {
		t.Errorf("ovsmesh flows on br0:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(flowTexts(want), "\n"))
	}
	if got := texts(flows, foreignCookie); !slices.Equal(got, foreign) {
		t.Errorf("foreign flows on br0 = %q, want %q", got, foreign)
	}
}

// assertAged checks that every flow of ours but except is at least min seconds old,
// i.e. was not reinstalled.
func assertAged(t *testing.T, o *testOVS, min float64, except *topology.Flow) {
	t.Helper()
	for _, f := range o.flows(t) {
		if f.cookie != ourCookie || (except != nil && f.text == except.String()) {
			continue
		}
		if f.duration < min {
			t.Errorf("flow %s is %.3fs old: it was reinstalled", f.text, f.duration)
		}
	}
}

// twoHostFlows is docker1's table once docker3 has left the lab.
func twoHostFlows(t *testing.T) []topology.Flow {
	t.Helper()
	top, err := topology.Compile("two.yaml", []byte(`
network: {encap: gre, mode: mesh, datapath: netdev, subnet: 172.17.0.0/16, slice_prefix: 18}
hosts:
  - {name: docker1, address: 198.18.0.1, index: 1}
  - {name: docker2, address: 198.18.0.2, index: 2}
`))
	if err != nil {
		t.Fatal(err)
	}
	return desired(t, top, "docker1")
}

func loadFlows(t testing.TB, path, host string) []topology.Flow {
	t.Helper()
	top, err := topology.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return desired(t, top, host)
}

func desired(t testing.TB, top *topology.Topology, host string) []topology.Flow {
	t.Helper()
	st, err := top.Desired(host)
	if err != nil {
		t.Fatal(err)
	}
	return st.Flows
}

// TestApplyUnreachableBridge checks the error names the bridge and carries
// ovs-ofctl's message, and that a missing bridge reads as an empty table: a dry
// run reports every flow as added.
func TestApplyUnreachableBridge(t *testing.T) {
	requireRealOVS(t)
	t.Setenv("OVS_RUNDIR", t.TempDir())
	tbl := New("br0", testLogger(t), WithTimeout(5*time.Second))
	want := labFlows(t, "docker1")
	_, err := tbl.Apply(context.Background(), want, false)
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), `bridge "br0"`) || !strings.Contains(err.Error(), "br0 is not a bridge or a socket") {
		t.Errorf("err = %v", err)
	}
	r, err := tbl.Read(context.Background())
	if err != nil {
		t.Fatalf("read a missing bridge: %v", err)
	}
	dry, err := r.Apply(context.Background(), want, true)
	if err != nil || len(dry) != len(want) {
		t.Errorf("dry run on a missing bridge: %d changes for %d flows, err %v", len(dry), len(want), err)
	}
}
