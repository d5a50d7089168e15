package controller

import (
	"context"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// BFDSessions reads the BFD sessions of a bridge's tunnels, by tunnel name.
type BFDSessions interface {
	Sessions(ctx context.Context, bridge string) (map[string]topology.BFDSession, error)
}

// flapLimit is how many forwarding changes (two outages: down, up, down, up)
// within FlapHold make a direct path unstable.
const flapLimit = 4

// desired computes the pass's desired state. In a mesh with bfd: true it sets
// the path policy from the tunnels' BFD sessions (topology.PathPolicy): a tunnel
// whose session has never been up sends straight out of its port (its peer may
// not run BFD), and one whose session flapped flapLimit times within FlapHold
// prefers its relays until it has been stable that long. When the sessions
// cannot be read, the last reading stands.
func (r *Reconciler) desired(ctx context.Context, t *topology.Topology) (topology.HostState, error) {
	if r.BFD == nil || !t.Relaying() {
		return t.Desired(r.Host)
	}
	if s, err := r.BFD.Sessions(ctx, t.Network.Bridge); err == nil {
		r.sessions = s
		r.flaps.observe(time.Now(), s, r.FlapHold)
	}
	p := topology.PathPolicy{Observed: true, SeenUp: make(map[string]bool, len(r.sessions))}
	for name, sess := range r.sessions {
		p.SeenUp[name] = sess.SeenUp
		if r.flaps.unstable(name) {
			if p.RelayFirst == nil {
				p.RelayFirst = map[string]bool{}
			}
			p.RelayFirst[name] = true
		}
	}
	return t.DesiredWith(r.Host, p)
}

// flapTracker remembers, per tunnel, when its BFD flap count grew within the
// hold time.
type flapTracker struct {
	last   map[string]int
	events map[string][]time.Time
}

// observe records the flap counts read at now, forgetting growth older than hold
// (0: keeps nothing, no tunnel is ever unstable).
func (f *flapTracker) observe(now time.Time, s map[string]topology.BFDSession, hold time.Duration) {
	if f.last == nil {
		f.last, f.events = map[string]int{}, map[string][]time.Time{}
	}
	for name, sess := range s {
		prev, known := f.last[name]
		f.last[name] = sess.Flaps
		// The first reading is a baseline; a smaller count is a new session
		// (ovs-vswitchd restarted).
		for n := prev; known && n < sess.Flaps && n < prev+flapLimit; n++ {
			f.events[name] = append(f.events[name], now)
		}
	}
	for name := range f.last {
		if _, ok := s[name]; !ok {
			delete(f.last, name) // the tunnel is gone
		}
	}
	for name, ev := range f.events {
		i := 0
		for i < len(ev) && (hold <= 0 || now.Sub(ev[i]) >= hold) {
			i++
		}
		if _, ok := s[name]; !ok || i == len(ev) {
			delete(f.events, name)
			continue
		}
		f.events[name] = ev[i:]
	}
}

// unstable reports whether the tunnel flapped flapLimit times within the hold.
func (f *flapTracker) unstable(name string) bool { return len(f.events[name]) >= flapLimit }
