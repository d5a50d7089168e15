package controller

import (
	"testing"
	"time"
)

// TestLoopPassesAtOnceOnANewTopology: a new topology from the Source is applied
// at once, without the debounce that OVSDB and link events wait for, unless the
// pass for the topology before ended less than the debounce ago: then its pass
// waits until the debounce after that end, so that a Source that changes
// without pause still leaves gaps between passes. Another pass just before (an
// OVSDB change's) does not hold it.
func TestLoopPassesAtOnceOnANewTopology(t *testing.T) {
	const debounce = 3 * time.Second
	changes := make(chan struct{}, 1)
	f := startLoopWith(t, time.Hour, changes, func(l *Loop) { l.Debounce = debounce })
	waitFor(t, "the first pass", func() bool { n, _ := f.rec.counts(); return n == 1 })
	time.Sleep(debounce + 100*time.Millisecond)

	topo := f.src.Current(time.Now()).Topology
	start := time.Now()
	f.src.set(Reading{Topology: topo})
	waitFor(t, "the pass of the new topology", func() bool { n, _ := f.rec.counts(); return n == 2 })
	if took := time.Since(start); took >= debounce/2 {
		t.Errorf("the pass of a new topology came %v after it, want it at once (the debounce is %v)", took, debounce)
	}

	// A second topology right after that pass waits for the debounce after it.
	ended := time.Now()
	f.src.set(Reading{Topology: topo})
	time.Sleep(debounce / 2)
	if n, _ := f.rec.counts(); n != 2 {
		t.Errorf("%d passes %v after a pass and a new topology, want 2: the next one waits for the debounce", n, time.Since(ended))
	}
	waitFor(t, "the pass of the second topology", func() bool { n, _ := f.rec.counts(); return n == 3 })
	if gap := time.Since(ended); gap < debounce-100*time.Millisecond {
		t.Errorf("the pass of the second topology came %v after the pass before, want at least the debounce %v", gap, debounce)
	}

	// An OVSDB change's pass, then a new topology at once after it.
	changes <- struct{}{}
	waitFor(t, "the pass of the OVSDB change", func() bool { n, _ := f.rec.counts(); return n == 4 })
	start = time.Now()
	f.src.set(Reading{Topology: topo})
	waitFor(t, "the pass of the third topology", func() bool { n, _ := f.rec.counts(); return n == 5 })
	if took := time.Since(start); took >= debounce/2 {
		t.Errorf("the pass of a new topology right after an OVSDB change's pass came %v after it, want it at once", took)
	}
}
