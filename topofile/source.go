package topofile

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/topology"
)

// DefaultPoll is how often a Source checks its file for changes.
const DefaultPoll = time.Second

// Source is a topology file as the loop's controller.Source. When the file is
// invalid, missing or unreadable, the last good topology stays in force; the
// problem is logged once per change of the file. A file being written is read
// once it has settled (see FileGuard), the last good topology in force
// meanwhile. Set its fields before the loop starts; Current must not be called
// from two goroutines at once.
type Source struct {
	Path   string
	Settle time.Duration // how long a changed file must stay unchanged; 0: DefaultSettle
	Poll   time.Duration // how often Watch checks the file; 0: DefaultPoll
	Log    *slog.Logger

	guard   FileGuard
	last    *topology.Topology // last good topology
	errSig  fileSig            // file version whose load error was logged
	logged  bool
	waitSig fileSig // file version whose wait to settle was logged
}

var _ controller.Source = (*Source)(nil)

// Watch checks the file every Poll until ctx is done and sends a value when its
// size, modification time or inode changed (a file replaced by rename is seen).
func (s *Source) Watch(ctx context.Context) <-chan struct{} {
	poll := s.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	ch := make(chan struct{}, 1)
	sig := statFile(s.Path)
	go func() {
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if now := statFile(s.Path); now != sig {
				sig = now
				s.Log.Info("topology file changed", "path", s.Path)
				select {
				case ch <- struct{}{}:
				default: // one is pending already
				}
			}
		}
	}()
	return ch
}

// Current reads the file through the guard: its topology once it has settled
// and is valid, else the last good one with the reason.
func (s *Source) Current(now time.Time) controller.Reading {
	s.guard.Settle = s.Settle
	data, wait, err := s.guard.Read(s.Path, now)
	var t *topology.Topology
	if err == nil && data != nil {
		t, err = topology.Compile(s.Path, data)
	}
	switch {
	case err == nil && data == nil:
		if sig := statFile(s.Path); sig != s.waitSig {
			s.waitSig = sig
			s.Log.Info("topology file is being written: waiting for it to settle before applying it",
				"path", s.Path, "settle", s.guard.settle(), "in_force", s.inForce())
		}
		return controller.Reading{Topology: s.last, Wait: wait,
			Err: fmt.Errorf("topology file %s changed less than %s ago: waiting for it to settle", s.Path, s.guard.settle())}
	case err != nil:
		if sig := statFile(s.Path); !s.logged || sig != s.errSig {
			s.errSig, s.logged = sig, true
			if s.last != nil {
				s.Log.Error("topology not loaded: keeping the last good topology in force", "path", s.Path, "err", err)
			} else {
				s.Log.Error("topology not loaded and no good topology yet: nothing applied", "path", s.Path, "err", err)
			}
		}
		return controller.Reading{Topology: s.last, Err: err}
	}
	if s.logged {
		s.Log.Info("topology loaded again", "path", s.Path)
	}
	s.last, s.logged = t, false
	return controller.Reading{Topology: t}
}

// inForce describes the topology in force while the file settles.
func (s *Source) inForce() string {
	if s.last == nil {
		return "none yet"
	}
	return "the last good one"
}
