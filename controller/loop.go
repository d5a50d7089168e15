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
)

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
	Changes  <-chan struct{}
	Observer Observer      // nil: none
	Debounce time.Duration // 0: DefaultDebounce
	FilePoll time.Duration // 0: DefaultFilePoll
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
	st := &loopState{l: l}
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
	last     *topology.Topology // last good topology
	errSig   fileSig            // file version whose load error was logged
	logged   bool
	failures int // consecutive failed passes
}

// pass runs one pass and returns the time until the next.
func (s *loopState) pass(ctx context.Context) time.Duration {
	l, log := s.l, s.l.R.Log
	t, err := topology.Load(l.R.Path)
	if err != nil {
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
	} else {
		if s.logged {
			log.Info("topology loaded again", "path", l.R.Path)
		}
		s.last, s.logged = t, false
	}
	var res Result
	if t == nil {
		res = Result{Host: l.R.Host, Steps: []Step{{Name: StepLoad, Err: err}}}
	} else {
		res = l.R.ApplyTopology(ctx, t, false)
	}
	if ctx.Err() != nil {
		return l.Interval // shutting down: the result of an abandoned pass means nothing
	}
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
