package controller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPassTimeout(t *testing.T) {
	for _, c := range []struct{ interval, want time.Duration }{
		{time.Second, 30 * time.Second},
		{30 * time.Second, 30 * time.Second},
		{time.Minute, time.Minute},
		{time.Hour, 2 * time.Minute},
	} {
		if got := PassTimeout(c.interval); got != c.want {
			t.Errorf("PassTimeout(%v) = %v, want %v", c.interval, got, c.want)
		}
	}
}

// TestLoopPassDeadline: a step that never returns by itself (a stuck daemon) is
// abandoned at the pass's deadline; the pass fails, the other steps ran, and the
// loop goes on with the next passes.
func TestLoopPassDeadline(t *testing.T) {
	block := make(chan struct{}) // never closed: OVSDB hangs until its context ends
	f := startLoopWith(t, time.Hour, nil, func(l *Loop) {
		l.PassTimeout = 200 * time.Millisecond
		l.R.OVS.(*countingOVS).block.Store(&block)
	})
	waitFor(t, "three passes", func() bool { n, _ := f.rec.counts(); return n >= 3 })
	f.rec.mu.Lock()
	first := f.rec.passes[0]
	f.rec.mu.Unlock()
	err := first.Err()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "ovsdb: ") {
		t.Errorf("first pass: %v, want the ovsdb step to fail with the deadline", err)
	}
	for _, st := range first.Steps {
		// The interfaces file is written beside a stuck OVSDB; daemon.json waits
		// for docker0, which waits for OVSDB.
		if st.Name == StepFiles && (!errors.Is(st.Err, errBridgeNotReady) || len(st.Changes) == 0) {
			t.Errorf("files step beside a stuck OVSDB: %v, %q; want the interfaces file written and daemon.json held back", st.Err, st.Changes)
		}
	}
	if !strings.Contains(f.logs.String(), "reconcile pass ran out of time") {
		t.Errorf("the deadline is not logged:\n%s", f.logs)
	}
}
