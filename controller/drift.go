package controller

import (
	"context"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Drift reports what a pass would change to make this host match t, changing
// nothing: the pass's steps with every adapter asked for its dry-run diff (as
// `apply --dry-run`), the Guard's refusal or the plan's error as its only step.
// `ovsmesh status` shows it. The host matches t when the result has no changes
// and no error. It changes nothing on the host; like any pass it does update
// what the Reconciler remembers between passes (LinkNames, the Guard's last
// verdict, the BFD readings).
func (r *Reconciler) Drift(ctx context.Context, t *topology.Topology) Result {
	return r.ApplyTopology(ctx, t, true)
}
