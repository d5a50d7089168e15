package agent

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/fleet"
)

var _ controller.Source = (*Agent)(nil)

// errNoView is the loop's reason while no view is in force (Start returns only
// once one is).
var errNoView = errors.New("no fleet view yet")

// Current returns the view in force: the last good view that includes this host.
// A view that etcd cannot give, or that is unusable, leaves it in force; the
// Agent logs those itself.
func (a *Agent) Current(time.Time) controller.Reading {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.view == nil {
		return controller.Reading{Err: errNoView}
	}
	return controller.Reading{Topology: a.view}
}

// Watch returns the channel that receives a value when a new view is in force.
// A new etcd revision that leaves the view as it is (a lease granted anywhere
// in the fleet moves it) sends nothing: it makes no reconcile pass.
func (a *Agent) Watch(context.Context) <-chan struct{} { return a.changed }

// putInForce makes s's view the one in force, unless it is that one already;
// a.mu is held.
func (a *Agent) putInForce(s fleet.Snapshot) {
	if a.view != nil && bytes.Equal(s.Text, a.text) {
		return
	}
	a.view, a.text = s.Topology, s.Text
	names := make([]string, 0, len(s.Topology.Hosts))
	for _, h := range s.Topology.Hosts {
		names = append(names, h.Name)
	}
	a.Log.Info("fleet view changed", "revision", s.Revision, "hosts", names, "held", s.Held, "path", a.ViewFile)
	select {
	case a.changed <- struct{}{}:
	default: // one is pending already
	}
}
