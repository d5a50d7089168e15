package controller

import (
	"context"

	"github.com/ovsmesh/ovsmesh/topology"
)

// BFDSessions tells which tunnels of a bridge have had their BFD session up
// (see topology.PathPolicy).
type BFDSessions interface {
	SeenUp(ctx context.Context, bridge string) (map[string]bool, error)
}

// desired computes the pass's desired state. In a mesh with bfd: true, a tunnel
// whose BFD session has never been up sends straight out of its port instead of
// through the relay choice (topology.PathPolicy): its peer may not run BFD. When
// the sessions cannot be read, the last reading stands.
func (r *Reconciler) desired(ctx context.Context, t *topology.Topology) (topology.HostState, error) {
	want, err := t.Desired(r.Host)
	if err != nil || r.BFD == nil || !relaying(want) {
		return want, err
	}
	if seen, err := r.BFD.SeenUp(ctx, want.OVS.Bridge); err == nil {
		r.seenUp = seen
	}
	notUp := map[string]bool{}
	for _, tu := range want.OVS.Tunnels {
		if len(tu.Relays.Names()) > 0 && !r.seenUp[tu.Name] {
			notUp[tu.Name] = true
		}
	}
	if len(notUp) == 0 {
		return want, nil
	}
	r.Log.Debug("tunnels sent direct until their BFD session comes up", "host", r.Host, "tunnels", len(notUp))
	return t.DesiredWith(r.Host, topology.PathPolicy{NotUpYet: notUp})
}

// relaying reports whether the state's tunnels carry relay marks.
func relaying(s topology.HostState) bool {
	return len(s.OVS.Tunnels) > 0 && s.OVS.Tunnels[0].Key == topology.KeyFlow
}
