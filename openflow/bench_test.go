package openflow

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// meshFlows returns the flow table of host h1 of an n-host GRE mesh: about 10n
// flows. The tunnels' OpenFlow ports need not exist: vswitchd accepts output to
// any valid port number.
func meshFlows(b *testing.B, n int) []topology.Flow {
	b.Helper()
	return desired(b, compileMesh(b, n, topology.ModeMesh), "h1")
}

// BenchmarkApply1000Hosts measures, on a real ovs-vswitchd, the install of the
// whole table of one host of a 1000-host mesh in one bundle (from an empty table)
// and an Apply that finds the table up to date (one dump, no write).
func BenchmarkApply1000Hosts(b *testing.B) {
	o := startOVS(b)
	want := meshFlows(b, 1000)
	tbl := New("br0", testLogger(b), WithTimeout(60*time.Second))
	b.Logf("%d flows", len(want))

	b.Run("install", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			o.ofctl(b, "del-flows", "br0", "cookie="+ourCookie+"/-1")
			b.StartTimer()
			changes, err := tbl.Apply(b.Context(), want, false)
			if err != nil || len(changes) != len(want) {
				b.Fatalf("Apply: %d changes, %v", len(changes), err)
			}
		}
	})
	b.Run("noop", func(b *testing.B) {
		if _, err := tbl.Apply(b.Context(), want, false); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			changes, err := tbl.Apply(b.Context(), want, false)
			if err != nil || changes != nil {
				b.Fatalf("Apply: %d changes, %v", len(changes), err)
			}
		}
	})
}

// BenchmarkReadCompare measures the read-and-compare side of an Apply that finds
// the table up to date, on the dump of a ~4000-flow table (host h1 of a 400-host
// mesh), before and after dump.go, in Go only (no ovs-ofctl), on the same text
// (ovs-ofctl dump-flows with statistics, as both paths run it):
//
//   - old: go-openvswitch parses the dump line by line (as
//     DumpFlowsWithFlowArgs does), and both sides are canonicalized from
//     *ovs.Flow values (oldpath_test.go);
//   - new: dumpEntries reads the text and canonical writes the wanted flows
//     directly.
//
// "dump" times the installed side alone, "want" the wanted side alone, "apply"
// both and the diff. Each new/ line reports x-vs-old, old's ns/op over its own,
// from the same run.
func BenchmarkReadCompare(b *testing.B) {
	// The former path (go-openvswitch's parser) cannot read the MAC check's
	// extension actions, registers and new match fields: compare on the flows
	// it can read.
	var want []topology.Flow
	for _, f := range meshFlows(b, 400) {
		if f.Reg4 == "" && f.Reg5 == "" && f.DlSrc == "" && f.VLANTCI == "" && f.NwFrag == "" && f.ICMPType == "" &&
			!slices.ContainsFunc(f.Actions, nxAction) {
			want = append(want, f)
		}
	}
	// vswitchd prints flows in the order of its hash tables: shuffle.
	shuffled := append([]topology.Flow(nil), want...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	dump := []byte("OFPST_FLOW reply (OF1.4) (xid=0x6):\n")
	for _, f := range shuffled {
		dump = append(dump, vswitchdLine(f, true)+"\n"...)
	}
	b.Logf("%d flows, dump of %d bytes", len(want), len(dump))

	oldDump := func() []entry {
		e, err := oldDumpEntries(dump)
		if err != nil || len(e) != len(want) {
			b.Fatalf("old parser: %d entries, %v", len(e), err)
		}
		return e
	}
	newDump := func() []entry {
		e := dumpEntries(dump)
		if len(e) != len(want) {
			b.Fatalf("dumpEntries: %d entries", len(e))
		}
		return e
	}
	oldWant := func() []entry {
		e, err := oldWantEntries(want)
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	newWant := func() []entry {
		e, err := wantEntries(want)
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	noChange := func(w, h []entry) {
		if c := diff(w, h).changes(); len(c) != 0 {
			b.Fatalf("%d changes, first %q", len(c), c[0])
		}
	}
	noChange(oldWant(), oldDump())
	noChange(newWant(), newDump())

	for _, c := range []struct {
		name     string
		old, new func()
	}{
		{"dump", func() { oldDump() }, func() { newDump() }},
		{"want", func() { oldWant() }, func() { newWant() }},
		{"apply", func() { noChange(oldWant(), oldDump()) }, func() { noChange(newWant(), newDump()) }},
	} {
		var oldNs float64
		b.Run(c.name+"/old", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.old()
			}
			oldNs = nsPerOp(b)
		})
		b.Run(c.name+"/new", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.new()
			}
			if oldNs > 0 {
				b.ReportMetric(oldNs/nsPerOp(b), "x-vs-old")
			}
		})
	}
}

func nsPerOp(b *testing.B) float64 { return float64(b.Elapsed().Nanoseconds()) / float64(b.N) }
