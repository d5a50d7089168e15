package controller

import (
	"context"
	"errors"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Guard checks, before a pass changes anything, that this machine is the host
// the plan is for and that everything the plan would change may be changed
// (the bridge is ovsmesh's and this host's, its internal interface carries no
// addresses, ...).
type Guard interface {
	Check(ctx context.Context, want topology.HostState) Verdict
}

// Verdict is a Guard's answer. The zero Verdict lets the pass go on.
type Verdict struct {
	// Unavailable says why the Guard could not tell (ovsdb-server
	// unreachable); nil: it could.
	Unavailable error
	// Refusals are the checks that failed: each one forbids the pass.
	Refusals []error
}

// Err is the verdict as the preflight step's error: the unavailability first,
// then the refusals; nil for a pass.
func (v Verdict) Err() error {
	return errors.Join(append([]error{v.Unavailable}, v.Refusals...)...)
}

// check runs the Guard. When it cannot tell because ovsdb-server is unreachable,
// the verdict of an earlier pass for the same bridge and owner stands: a loop then
// still repairs docker0 and the files during an outage (down says so), while a
// first pass (one that never saw the database) changes nothing. A refusal always
// refuses.
func (r *Reconciler) check(ctx context.Context, want topology.HostState) (down bool, err error) {
	if r.Guard == nil {
		return false, nil
	}
	key := want.OVS.Bridge + "\x00" + want.OVS.Owner
	v := r.Guard.Check(ctx, want)
	switch {
	case v.Unavailable == nil && len(v.Refusals) == 0:
		r.verified = key
		return false, nil
	case v.Unavailable != nil && len(v.Refusals) == 0 && r.verified == key:
		r.Log.Debug("preflight: ovsdb-server unreachable, keeping the last verdict", "host", r.Host, "err", v.Unavailable)
		return true, nil
	}
	r.verified = ""
	return false, v.Err()
}
