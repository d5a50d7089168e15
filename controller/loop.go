package controller

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Observer is told about every pass of a Loop and every failed topology load (for
// metrics). Its methods run on the loop's goroutine and must not block for long.
type Observer interface {
	Pass(ctx context.Context, res Result)
	LoadError(err error)
}

// Loop defaults.
const (
	DefaultDebounce = 250 * time.Millisecond // quiet time after an event before a pass
	DefaultFilePoll = time.Second            // how often the topology file is checked for changes
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
// 10% jitter so a fleet does not pass in lockstep), one soon after Changes reports
// a change in OVSDB, and one when the topology file changes. Passes never overlap.
// A failed pass is retried sooner, from 1 s doubling up to Interval.
//
// When the topology file is invalid, missing or unreadable, the last good topology
// stays in force (passes go on repairing drift with it); the error is counted on
// every pass and logged once per change of the file.
type Loop struct {
	R        *Reconciler
	Interval time.Duration
	// Changes, if not nil, receives a value when OVSDB reports a change to what
	// ovsmesh owns or wants; bursts are debounced into one pass.
	Changes <-chan struct{}
	// Links, if not nil, receives a value when the docker bridge or the OVS
	// bridge's internal port changes in the kernel (see Reconciler.LinkNames),
	// which OVSDB does not report: Docker recreating docker0, a person detaching
	// the port. Debounced like Changes.
	Links    <-chan struct{}
	Observer Observer      // nil: none
	Debounce time.Duration // 0: DefaultDebounce
	FilePoll time.Duration // 0: DefaultFilePoll
	// Settle is how long a changed topology file must stay unchanged before it is
	// applied (see FileGuard); 0: DefaultSettle.
	Settle time.Duration
	// PassTimeout is each pass's deadline; 0: PassTimeout(Interval).
	PassTimeout time.Duration
}

// fileSig identifies a version of the topology file without reading it.
type fileSig struct {
	exists bool
	size   int64
	mtime  time.Time
	ino    uint64
	err    string
}

func statFile(path string) fileSig {
	fi, err := os.Stat(path)
	if err != nil {
		return fileSig{err: err.Error()}
	}
	return fileSig{exists: true, size: fi.Size(), mtime: fi.ModTime(), ino: inode(fi)}
}

// Run runs passes until ctx is done, then returns nil without touching the
// network: a pass in progress is abandoned through ctx.
func (l *Loop) Run(ctx context.Context) error {
	if l.Interval <= 0 {
		return errors.New("loop interval must be positive")
	}
	debounce, poll := l.Debounce, l.FilePoll
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	if poll <= 0 {
		poll = DefaultFilePoll
	}
	st := &loopState{l: l, guard: FileGuard{Settle: l.Settle}, timeout: l.PassTimeout}
	if st.timeout <= 0 {
		st.timeout = PassTimeout(l.Interval)
	}
	timer := time.NewTimer(0) // the first pass runs at once
	defer timer.Stop()
	due := time.Now()
	soon := func() { // schedule a pass after the debounce unless one is due earlier
		if at := time.Now().Add(debounce); at.Before(due) {
			due = at
			timer.Reset(debounce)
		}
	}
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	sig := statFile(l.R.Path)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.Changes:
			soon()
		case <-l.Links:
			soon()
		case <-ticker.C:
			if s := statFile(l.R.Path); s != sig {
				sig = s
				l.R.Log.Info("topology file changed", "path", l.R.Path)
				soon()
			}
		case <-timer.C:
			wait := st.pass(ctx)
			due = time.Now().Add(wait)
			timer.Reset(wait)
		}
	}
}

// loopState is what a Loop remembers between passes.
type loopState struct {
	l        *Loop
	guard    FileGuard
	timeout  time.Duration      // each pass's deadline
	last     *topology.Topology // last good topology
	errSig   fileSig            // file version whose load error was logged
	logged   bool
	waitSig  fileSig // file version whose wait to settle was logged
	failures int     // consecutive failed passes
}

// pass runs one pass and returns the time until the next.
func (s *loopState) pass(ctx context.Context) time.Duration {
	l, log := s.l, s.l.R.Log
	t, settling, err := s.load()
	switch {
	case settling > 0:
		if sig := statFile(l.R.Path); sig != s.waitSig {
			s.waitSig = sig
			log.Info("topology file is being written: waiting for it to settle before applying it",
				"path", l.R.Path, "settle", s.guard.settle(), "in_force", s.inForce())
		}
		t = s.last
		if t == nil {
			err = fmt.Errorf("topology file %s changed less than %s ago: waiting for it to settle", l.R.Path, s.guard.settle())
		}
	case err != nil:
		if l.Observer != nil {
			l.Observer.LoadError(err)
		}
		if sig := statFile(l.R.Path); !s.logged || sig != s.errSig {
			s.errSig, s.logged = sig, true
			if s.last != nil {
				log.Error("topology not loaded: keeping the last good topology in force", "path", l.R.Path, "err", err)
			} else {
				log.Error("topology not loaded and no good topology yet: nothing applied", "path", l.R.Path, "err", err)
			}
		}
		t = s.last
	default:
		if s.logged {
			log.Info("topology loaded again", "path", l.R.Path)
		}
		s.last, s.logged = t, false
	}
	var res Result
	if t == nil {
		res = Result{Host: l.R.Host, Steps: []Step{{Name: StepLoad, Err: err}}}
	} else {
		pctx, cancel := context.WithTimeout(ctx, s.timeout)
		res = l.R.ApplyTopology(pctx, t, false)
		if ctx.Err() == nil && errors.Is(pctx.Err(), context.DeadlineExceeded) {
			log.Error("reconcile pass ran out of time: its unfinished steps were abandoned", "host", l.R.Host, "deadline", s.timeout)
		}
		cancel()
	}
	if ctx.Err() != nil {
		return l.Interval // shutting down: the result of an abandoned pass means nothing
	}
	next := s.report(ctx, res)
	if settling > 0 {
		next = min(next, settling)
	}
	return next
}

// load reads the topology file through the guard: the topology when the file has
// settled, else how long until it may have (or the load error).
func (s *loopState) load() (*topology.Topology, time.Duration, error) {
	data, wait, err := s.guard.Read(s.l.R.Path, time.Now())
	if err != nil || data == nil {
		return nil, wait, err
	}
	t, err := topology.Compile(s.l.R.Path, data)
	return t, 0, err
}

// inForce describes the topology a pass applies while the file settles.
func (s *loopState) inForce() string {
	if s.last == nil {
		return "none yet"
	}
	return "the last good one"
}

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
