package openflow

import (
	"flag"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

var update = flag.Bool("update", false, "rewrite testdata/kinds.nostats.dump from a real ovs-vswitchd")

// TestDumpRealOVS checks dumpEntries against what a real ovs-vswitchd prints:
// every flow kind topology computes round-trips to "no change", the lines of
// realLines and testdata are really vswitchd's, and randomly generated flows
// round-trip too (vswitchd as the oracle of canonical's normalization).
func TestDumpRealOVS(t *testing.T) {
	o, rec, tbl, foreign := startWithForeignFlow(t)
	ctx := t.Context()

	// roundTrip installs want from any state and checks that a second Apply
	// finds nothing to do and runs nothing but the dump. With exact, vswitchd's
	// text of each flow must also be the flow's String(), which holds for the
	// values topology writes (normalized, fields in vswitchd's order).
	roundTrip := func(t *testing.T, want []topology.Flow, exact bool) {
		t.Helper()
		if _, err := tbl.Apply(ctx, want, false); err != nil {
			t.Fatal(err)
		}
		rec.take()
		changes, err := tbl.Apply(ctx, want, false)
		if err != nil || changes != nil {
			t.Fatalf("second Apply = %q, %v; want no changes", changes, err)
		}
		if cmds := rec.take(); len(cmds) != 1 || len(writes(cmds)) != 0 {
			t.Errorf("second Apply ran %q, want one dump-flows and no write", cmds)
		}
		if exact {
			assertTable(t, o, want, foreign)
			return
		}
		flows := o.flows(t)
		if n := len(texts(flows, ourCookie)); n != len(want) {
			t.Errorf("%d ovsmesh flows on br0, want %d", n, len(want))
		}
		if got := texts(flows, foreignCookie); !slices.Equal(got, foreign) {
			t.Errorf("foreign flows on br0 = %q, want %q", got, foreign)
		}
	}

	t.Run("every kind", func(t *testing.T) {
		var want []topology.Flow
		for _, k := range kinds {
			want = append(want, k.flow)
		}
		roundTrip(t, want, true)
		out, err := tbl.dump(ctx)
		if err != nil {
			t.Fatal(err)
		}
		checkFixture(t, "testdata/kinds.dump", "--no-names dump-flows", string(out))
		checkFixture(t, "testdata/kinds.nostats.dump", "--no-names dump-flows --no-stats",
			o.ofctl(t, "--no-names", "dump-flows", "--no-stats", "br0", ourCookieMatch))
	})

	t.Run("real lines", func(t *testing.T) {
		o.ofctl(t, "del-flows", "br0", ourCookieMatch)
		var bundle, dumped, dels []string
		var want []topology.Flow
		for _, tt := range realLines {
			bundle = append(bundle, "add cookie="+cookieHex+","+tt.written)
			dumped = append(dumped, strings.TrimSpace(tt.dumped))
			if tt.want != nil {
				want = append(want, *tt.want)
			} else {
				dels = append(dels, "delete flow "+tt.text)
			}
		}
		in := o.Dir + "/bundle"
		if err := os.WriteFile(in, []byte(strings.Join(bundle, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		o.ofctl(t, "--bundle", "add-flows", "br0", in)
		noStats := o.ofctl(t, "--no-names", "dump-flows", "--no-stats", "br0", ourCookieMatch)
		slices.Sort(dumped)
		if got := sortedLines(noStats); !slices.Equal(got, dumped) {
			t.Errorf("dump:\n%s\nrealLines have:\n%s", strings.Join(got, "\n"), strings.Join(dumped, "\n"))
		}
		// Apply's dump, with statistics, reads the same.
		out, err := tbl.dump(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := entryTexts(dumpEntries(out)), entryTexts(dumpEntries([]byte(noStats))); !slices.Equal(got, want) {
			t.Errorf("dump with statistics:\n%s\nwithout:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// The flows with a wanted twin compare equal to it: Apply only
		// deletes the others.
		slices.Sort(dels)
		changes, err := tbl.Apply(ctx, want, true)
		if err != nil || !slices.Equal(changes, dels) {
			t.Errorf("dry run = %v\n%s\nwant:\n%s", err, strings.Join(changes, "\n"), strings.Join(dels, "\n"))
		}
		roundTrip(t, want, false)
	})

	t.Run("generated flows", func(t *testing.T) {
		seed := uint64(time.Now().UnixNano())
		for _, s := range []uint64{1, seed} {
			t.Logf("seed %d", s)
			roundTrip(t, genFlows(rand.New(rand.NewPCG(s, 3)), 400), false)
		}
	})

	t.Run("count", func(t *testing.T) {
		want := labFlows(t, "docker1")
		roundTrip(t, want, true)
		if n, err := tbl.Count(ctx); err != nil || n != len(want) {
			t.Errorf("Count = %d, %v; want %d", n, err, len(want))
		}
	})
}

// checkFixture compares a dump of kinds (sorted, ages and xids left out) with a
// file of testdata, or rewrites the file with -update.
func checkFixture(t *testing.T, path, args, dump string) {
	t.Helper()
	if *update {
		head := "# ovs-ofctl -O OpenFlow14 " + args + " br0 cookie=0x6f76736d657368/-1, as printed by\n" +
			"# ovs-vswitchd 3.1.0 after Table.Apply of the flows of kinds (convert_test.go), sorted.\n" +
			"# go test ./openflow -run TestDumpRealOVS -update rewrites it.\n"
		if err := os.WriteFile(path, []byte(head+strings.Join(sortedLines(dump), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	varying := regexp.MustCompile(`duration=[0-9.]+s|xid=0x[0-9a-f]+`)
	got := sortedLines(varying.ReplaceAllString(dump, "…"))
	want := sortedLines(varying.ReplaceAllString(string(readDump(t, path)), "…"))
	if !slices.Equal(got, want) {
		t.Errorf("dump:\n%s\n%s has:\n%s", strings.Join(got, "\n"), path, strings.Join(want, "\n"))
	}
}

// entryTexts returns the sorted texts of entries.
func entryTexts(entries []entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.text)
	}
	slices.Sort(out)
	return out
}

// sortedLines returns the non-blank lines of s, trimmed and sorted.
func sortedLines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}
