package ovsdb

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
	"github.com/ovsmesh/ovsmesh/topology"
)

// ErrForeignBridge is wrapped by the refusal to change a bridge that carries no
// owner mark: ovsmesh did not build it (br0 is also the usual name of a host's own
// uplink bridge), and adopting it would give it fail_mode=secure and a flow table
// that drops its ports' frames.
var ErrForeignBridge = errors.New("was not built by ovsmesh")

// ErrOtherOwner is wrapped by the refusal to change a bridge whose owner mark names
// another host: a cloned machine or a mistyped --host, which would otherwise
// reconfigure this machine as that host and delete that host's tunnels.
var ErrOtherOwner = errors.New("belongs to another host")

// TakeOverHint is how an operator gets past ErrForeignBridge and ErrOtherOwner.
const TakeOverHint = "pass --take-over to adopt it"

// ownership checks that the bridge the topology names may be changed: it does not
// exist yet, or it carries this host's owner mark. With takeOver any bridge may be
// changed (the pass then puts this host's mark on it). It is pure.
func ownership(want topology.OVSState, s snapshot, takeOver bool) error {
	b := s.Bridge
	if b == nil || takeOver {
		return nil
	}
	owner, marked := b.ExternalIDs[topology.OwnerKey]
	switch {
	case !marked:
		return fmt.Errorf("bridge %q %w (no external_ids:%s; %s): refusing to change it; %s",
			want.Bridge, ErrForeignBridge, topology.OwnerKey, portList(s), TakeOverHint)
	case owner != want.Owner:
		return fmt.Errorf("bridge %q %w: external_ids:%s=%s, and this is %q (is --host right, or is this machine a clone of %s?); %s: refusing to change it; %s",
			want.Bridge, ErrOtherOwner, topology.OwnerKey, owner, want.Owner, owner, portList(s), TakeOverHint)
	}
	return nil
}

// portList names the bridge's ports, the internal one left out.
func portList(s snapshot) string {
	var names []string
	for name := range s.Ports {
		if name != s.Bridge.Name {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "it has no ports besides its internal one"
	}
	slices.Sort(names)
	return "its ports: " + strings.Join(names, ", ")
}

// staleBridges returns the bridges this host owns that the topology no longer
// names (network.bridge was renamed): diff deletes them with their ports. Bridges
// without the mark or with another host's are never touched.
func staleBridges(want topology.OVSState, s snapshot) []vswitchd.Bridge {
	var stale []vswitchd.Bridge
	for _, name := range slices.Sorted(maps.Keys(s.Others)) {
		b := s.Others[name]
		if b.ExternalIDs[topology.OwnerKey] == want.Owner {
			stale = append(stale, b)
		}
	}
	return stale
}
