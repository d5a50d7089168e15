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
// changes anything on this machine. It runs them all and joins their errors, so
// that one refusal names the bridge, its ports and its addresses together.
type hostGuard struct {
	db          ovsAdapter
	bridge      *linuxbridge.Bridge
	skipAddress bool
	takeOver    bool // adopt a Linux bridge ovsmesh did not build
}

var _ controller.Guard = hostGuard{}

func (g hostGuard) Check(ctx context.Context, want topology.HostState) error {
	var errs []error
	if err := g.db.Check(ctx, want.OVS); err != nil {
		errs = append(errs, err)
	}
	if err := g.bridge.CheckOwner(ctx, want.Docker, g.takeOver); err != nil {
		errs = append(errs, err)
	}
	if err := g.bridge.CheckPort(ctx, want.Docker); err != nil {
		errs = append(errs, err)
	}
	if !g.skipAddress {
		if err := g.bridge.CheckAddress(ctx, want.Address); err != nil {
			errs = append(errs, fmt.Errorf("host %q: its address in the topology, %w: is --host right, or is this machine a clone? (pass --skip-address-check if this host's address is not on any of its interfaces, e.g. behind NAT)",
				want.Host, err))
		}
	}
	return errors.Join(errs...)
}
