package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/linuxbridge"
	"github.com/ovsmesh/ovsmesh/topology"
)

// OVS is the OVSDB side of a pass (an *ovsdb.Client or *ovsdb.Pending): it
// applies the plan, can tell beforehand whether the bridge may be changed, and
// reads the tunnels' BFD sessions.
type OVS interface {
	controller.OVS
	controller.BFDSessions
	Check(ctx context.Context, want topology.OVSState) error
}

// Guard is the Reconciler's Guard: every check that must pass before a pass
// changes anything on this machine. It runs them all and collects their errors in
// one verdict, so that one refusal names the bridge, its ports and its addresses
// together.
type Guard struct {
	DB     OVS
	Bridge *linuxbridge.Bridge
	// SkipAddress: do not require the host's address from the topology on one
	// of this machine's interfaces (e.g. behind NAT).
	SkipAddress bool
	TakeOver    bool // adopt a Linux bridge ovsmesh did not build
}

var _ controller.Guard = Guard{}

// Check runs every check and files each error in the verdict (see add).
func (g Guard) Check(ctx context.Context, want topology.HostState) controller.Verdict {
	var v controller.Verdict
	add(&v, g.DB.Check(ctx, want.OVS))
	add(&v, g.Bridge.CheckOwner(ctx, want.Docker, g.TakeOver))
	add(&v, g.Bridge.CheckPort(ctx, want.Docker))
	if !g.SkipAddress {
		if err := g.Bridge.CheckAddress(ctx, want.Address); err != nil {
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
