package controller

import (
	"context"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// BFDSession is what ovs-vswitchd reports of one tunnel's BFD session.
type BFDSession struct {
	// SeenUp: the session is up or has been (bfd_status state up, or a flap
	// count above 0).
	SeenUp bool
	// Flaps is bfd_status:flap_count: changes of its forwarding state since
	// ovs-vswitchd created the session.
	Flaps int
}

// BFDSessions reads the BFD sessions of a bridge's tunnels, by tunnel name.
type BFDSessions interface {
	Sessions(ctx context.Context, bridge string) (map[string]BFDSession, error)
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
	want, err := t.Desired(r.Host)
	if err != nil || r.BFD == nil || !relaying(want) {
		return want, err
	}
	if s, err := r.BFD.Sessions(ctx, want.OVS.Bridge); err == nil {
		r.sessions = s
		r.flaps.observe(time.Now(), s, r.FlapHold)
	}
	var p topology.PathPolicy
	for _, tu := range want.OVS.Tunnels {
		switch {
		case len(tu.Relays.Names()) == 0:
		case !r.sessions[tu.Name].SeenUp:
			p.NotUpYet = add(p.NotUpYet, tu.Name)
		case r.flaps.unstable(tu.Name):
			p.RelayFirst = add(p.RelayFirst, tu.Name)
		}
	}
	if p.NotUpYet == nil && p.RelayFirst == nil {
		return want, nil
	}
	r.Log.Debug("path policy", "host", r.Host, "not_up_yet", len(p.NotUpYet), "flapping", len(p.RelayFirst))
	return t.DesiredWith(r.Host, p)
}

func add(m map[string]bool, k string) map[string]bool {
	if m == nil {
		m = map[string]bool{}
	}
	m[k] = true
	return m
}

// relaying reports whether the state's tunnels carry relay marks.
func relaying(s topology.HostState) bool {
	return len(s.OVS.Tunnels) > 0 && s.OVS.Tunnels[0].Key == topology.KeyFlow
}

// flapTracker remembers, per tunnel, when its BFD flap count grew within the
// hold time.
type flapTracker struct {
	last   map[string]int
	events map[string][]time.Time
}

// observe records the flap counts read at now, forgetting growth older than hold
// (0: keeps nothing, no tunnel is ever unstable).
func (f *flapTracker) observe(now time.Time, s map[string]BFDSession, hold time.Duration) {
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
