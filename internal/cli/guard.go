package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/linuxbridge"
	"github.com/ovsmesh/ovsmesh/topology"
)

// ovsAdapter is the OVSDB side of a pass: it applies the plan, can tell
// beforehand whether the bridge may be changed, and reads the tunnels' BFD
// sessions.
type ovsAdapter interface {
	controller.OVS
	controller.BFDSessions
	Check(ctx context.Context, want topology.OVSState) error
}

// hostGuard is the Reconciler's Guard: every check that must pass before a pass
// changes anything on this machine. It runs them all and collects their errors in
// one verdict, so that one refusal names the bridge, its ports and its addresses
// together.
type hostGuard struct {
	db          ovsAdapter
	bridge      *linuxbridge.Bridge
	skipAddress bool
	takeOver    bool // adopt a Linux bridge ovsmesh did not build
}

var _ controller.Guard = hostGuard{}

func (g hostGuard) Check(ctx context.Context, want topology.HostState) controller.Verdict {
	var v controller.Verdict
	add(&v, g.db.Check(ctx, want.OVS))
	add(&v, g.bridge.CheckOwner(ctx, want.Docker, g.takeOver))
	add(&v, g.bridge.CheckPort(ctx, want.Docker))
	if !g.skipAddress {
		if err := g.bridge.CheckAddress(ctx, want.Address); err != nil {
			add(&v, fmt.Errorf("host %q: its address in the topology, %w: is --host right, or is this machine a clone? (pass --skip-address-check if this host's address is not on any of its interfaces, e.g. behind NAT)",
				want.Host, err))
		}
	}
	return v
}

// add files a check's error in v: one whose Unavailable method reports true
// (ovsdb-server unreachable) means the check could not tell, any other refuses.
func add(v *controller.Verdict, err error) {
	var u interface{ Unavailable() bool }
	switch {
	case err == nil:
	case !errors.As(err, &u) || !u.Unavailable():
		v.Refusals = append(v.Refusals, err)
	case v.Unavailable == nil:
		v.Unavailable = err
	default:
		v.Unavailable = errors.Join(v.Unavailable, err)
	}
}
