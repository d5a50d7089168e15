package controller

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Observer is told about every pass of a Loop and every failed topology load (for
// metrics). Its methods run on the loop's goroutine and must not block for long.
type Observer interface {
	Pass(ctx context.Context, res Result)
	LoadError(err error)
}

// Loop defaults.
const (
	DefaultDebounce = 250 * time.Millisecond // see Loop.Debounce
	firstRetry      = time.Second            // first retry after a failed pass, doubling up to the interval
	// Bounds of a pass's deadline (see PassTimeout).
	minPassTimeout = 30 * time.Second
	maxPassTimeout = 2 * time.Minute
)

// PassTimeout is the deadline of one pass of a loop with the given interval: the
// interval, but at least 30 s and at most 2 min. Each call a pass makes has its own,
// shorter timeout (10 s for an OVSDB transaction, for ovs-vswitchd to apply it
// and for each ovs-ofctl or ovs-appctl run), so a stuck daemon fails its step and
// the other steps still run; the deadline is the backstop that ends the pass
// whatever happens, so that the loop goes on.
func PassTimeout(interval time.Duration) time.Duration {
	return min(max(interval, minPassTimeout), maxPassTimeout)
}

// Loop runs reconcile passes: one at start, then one every Interval (with up to
// 10% jitter so a fleet does not pass in lockstep), one within Debounce after
// Changes or Links reports a change (a burst makes one pass), and one as soon as
// the Source reports a new topology (at once, or Debounce after the end of the
// last pass for a new topology if that is later). Passes never overlap. A failed
// pass is retried sooner, from 1 s doubling up to Interval.
//
// When the Source has no good topology in force, the pass fails with the
// Source's reason and changes nothing; a load error is counted on every pass
// (Observer.LoadError). The Source says what is in force meanwhile (see Reading).
type Loop struct {
	R        *Reconciler
	Source   Source
	Interval time.Duration
	// Changes, if not nil, receives a value when OVSDB reports a change to what
	// ovsmesh owns or wants; bursts are debounced into one pass.
	Changes <-chan struct{}
	// Links, if not nil, receives a value when the docker bridge or the OVS
	// bridge's internal port changes in the kernel (see Reconciler.LinkNames),
	// which OVSDB does not report: Docker recreating docker0, a person detaching
	// the port. Debounced like Changes.
	Links    <-chan struct{}
	Observer Observer // nil: none
	// Debounce is the longest wait from a change that Changes or Links reports
	// to its pass, and the shortest time between the end of a pass for a new
	// topology and the pass for the next one; 0: DefaultDebounce.
	Debounce time.Duration
	// PassTimeout is each pass's deadline; 0: PassTimeout(Interval).
	PassTimeout time.Duration
}

// Run runs passes until ctx is done, then returns nil without touching the
// network: a pass in progress is abandoned through ctx.
func (l *Loop) Run(ctx context.Context) error {
	if l.Interval <= 0 {
		return errors.New("loop interval must be positive")
	}
	debounce := l.Debounce
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	st := &loopState{l: l, timeout: l.PassTimeout}
	if st.timeout <= 0 {
		st.timeout = PassTimeout(l.Interval)
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop() // ends the Source's watch
	changed := l.Source.Watch(ctx)
	timer := time.NewTimer(0) // the first pass runs at once
	defer timer.Stop()
	due := time.Now()
	var bySource bool                   // the pass due was asked for by the Source
	var sourceEnded time.Time           // when the last pass the Source asked for ended
	at := func(t time.Time, src bool) { // schedule a pass at t unless one is due earlier
		if t.Before(due) {
			due, bySource = t, src
			timer.Reset(max(time.Until(t), 0))
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.Changes:
			at(time.Now().Add(debounce), false)
		case <-l.Links:
			at(time.Now().Add(debounce), false)
		case <-changed:
			// A new topology is a settled value (a file the Source has seen
			// settle, a fleet view): its pass runs at once, unless the last
			// pass for a new topology ended less than the debounce ago, so
			// that a Source that changes without pause still leaves gaps
			// between passes.
			at(later(time.Now(), sourceEnded.Add(debounce)), true)
		case <-timer.C:
			wait := st.pass(ctx)
			if bySource {
				sourceEnded, bySource = time.Now(), false
			}
			due = time.Now().Add(wait)
			timer.Reset(wait)
		}
	}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// loopState is what a Loop remembers between passes.
type loopState struct {
	l        *Loop
	timeout  time.Duration // each pass's deadline
	failures int           // consecutive failed passes
}

// pass runs one pass and returns the time until the next.
func (s *loopState) pass(ctx context.Context) time.Duration {
	l, log := s.l, s.l.R.Log
	rd := l.Source.Current(time.Now())
	if rd.Err != nil && rd.Wait <= 0 && l.Observer != nil {
		l.Observer.LoadError(rd.Err)
	}
	var res Result
	if rd.Topology == nil {
		err := rd.Err
		if err == nil {
			err = errNoTopology
		}
		res = Result{Host: l.R.Host, Steps: []Step{{Name: StepLoad, Err: err}}}
	} else {
		pctx, cancel := context.WithTimeout(ctx, s.timeout)
		res = l.R.ApplyTopology(pctx, rd.Topology, false)
		if ctx.Err() == nil && errors.Is(pctx.Err(), context.DeadlineExceeded) {
			log.Error("reconcile pass ran out of time: its unfinished steps were abandoned", "host", l.R.Host, "deadline", s.timeout)
		}
		cancel()
	}
	if ctx.Err() != nil {
		return l.Interval // shutting down: the result of an abandoned pass means nothing
	}
	next := s.report(ctx, res)
	if rd.Wait > 0 {
		next = min(next, rd.Wait)
	}
	return next
}

// errNoTopology is a pass's error when its Source has no topology and says
// nothing of why.
var errNoTopology = errors.New("no topology yet")

// report hands a pass's result to the observer and the log and returns the time
// until the next pass.
func (s *loopState) report(ctx context.Context, res Result) time.Duration {
	l, log := s.l, s.l.R.Log
	if l.Observer != nil {
		l.Observer.Pass(ctx, res)
	}
	for _, st := range res.Steps {
		if st.Err != nil && st.Name != StepLoad {
			log.Error("reconcile step failed", "host", l.R.Host, "step", st.Name, "err", st.Err)
		}
	}
	if res.Err() != nil {
		s.failures++
		return min(firstRetry<<min(s.failures-1, 16), l.Interval)
	}
	s.failures = 0
	return jitter(l.Interval)
}

// jitter returns d plus or minus up to 10%.
func jitter(d time.Duration) time.Duration {
	j := int64(d) / 10
	if j <= 0 {
		return d
	}
	return d + time.Duration(rand.Int64N(2*j+1)-j)
}

// String describes a result in one line, for logs and status.
func (r Result) String() string {
	n := 0
	for _, s := range r.Steps {
		n += len(s.Changes)
	}
	if err := r.Err(); err != nil {
		return fmt.Sprintf("%s: %d changes, failed: %v", r.Host, n, err)
	}
	return fmt.Sprintf("%s: %d changes", r.Host, n)
}
