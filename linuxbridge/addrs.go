package linuxbridge

import (
	"net/netip"
)

// dockerDefault is the address dockerd gives docker0 when nothing configures it
// (bip). ovsmesh removes "bip" from daemon.json, but the address stays on the
// bridge until someone deletes it.
var dockerDefault = netip.MustParsePrefix("172.17.0.1/16")

// addr is an IPv4 address of the bridge as the kernel lists it.
type addr struct {
	prefix    netip.Prefix
	secondary bool // IFA_F_SECONDARY: another address of the same network came first
}

// removal is an address to delete from the bridge, and why.
type removal struct {
	addr   netip.Prefix
	reason string
}

// addrPlan is the order of the address changes: deletes that must come first, the
// add, the other deletes.
type addrPlan struct {
	before []removal
	add    bool
	after  []removal
}

// diffAddrs compares the bridge's IPv4 addresses (have) with the one it must
// carry (want, in the container subnet).
//
// Only addresses that clash with the address plan are deleted: those inside the
// subnet (another host's docker0 address, an old address of this host), and
// Docker's default 172.17.0.1/16 when its network overlaps the subnet (its route
// would capture part of the subnet). Any other address is the operator's and is
// kept.
//
// The add comes before the deletes, except for one case: when want is missing or
// secondary and a clashing address is the primary of want's network. Deleting a
// primary address also deletes its secondaries (unless the promote_secondaries
// sysctl is set), so that primary is deleted first and want added after it.
func diffAddrs(want, subnet netip.Prefix, have []addr) addrPlan {
	var p addrPlan
	wantPrimary := false
	p.add = true
	for _, a := range have {
		if a.prefix == want {
			p.add = false
			wantPrimary = !a.secondary
		}
	}
	for _, a := range have {
		var reason string
		switch {
		case a.prefix == want:
			continue
		case subnet.Contains(a.prefix.Addr()):
			reason = "inside subnet " + subnet.String()
		case a.prefix == dockerDefault && a.prefix.Masked().Overlaps(subnet):
			reason = "Docker's default address overlaps subnet " + subnet.String()
		default:
			continue
		}
		r := removal{a.prefix, reason}
		if !wantPrimary && !a.secondary && a.prefix.Masked() == want.Masked() {
			// Its deletion takes want (a secondary) along: add it again after.
			p.before = append(p.before, r)
			p.add = true
			continue
		}
		p.after = append(p.after, r)
	}
	return p
}
