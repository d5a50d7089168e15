package controller

import (
	"context"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Source is where a Loop's topology comes from: a topology file (package
// topofile), a fleet's view in etcd (package fleet/agent), a test's value. The
// Loop never knows which. Its methods are called from the Loop's goroutine.
type Source interface {
	// Current returns the topology in force now, or why there is none.
	Current(now time.Time) Reading
	// Watch returns a channel that receives a value when Current may return
	// something new, until ctx is done. The Loop calls it once, before its
	// first pass; bursts are debounced into one pass.
	Watch(ctx context.Context) <-chan struct{}
}

// Reading is what a Source holds at one moment.
type Reading struct {
	// Topology is the topology in force: the newest good one the source has
	// seen (nil: none yet). A source whose newest content is bad keeps the last
	// good topology in force, so that passes go on repairing drift with it.
	Topology *topology.Topology
	// Err says why the newest content is not in force: it could not be loaded
	// (invalid, unreadable: the Loop counts it on every pass, see
	// Observer.LoadError), or, with Wait, it is still being written.
	Err error
	// Wait, when positive, says the newest content is still changing (a file
	// being written): the Loop reads it again within Wait.
	Wait time.Duration
}
