package fleet

import (
	"fmt"
	"net/netip"
)

// Indexes and addresses are claimed by keys under each host's own prefix
// (hosts/<name>/index/<n>, hosts/<name>/address/<ip>), never by a key space
// every host may write. Of the claims of one index or address, the one etcd
// created first wins: a host that registered an address first keeps it,
// whatever another host writes later under its own prefix.

// claim is one host's claim of an index or address, at its create revision.
type claim struct {
	host string
	rev  int64
}

// before orders claims: the earlier create revision first, then the name (a
// transaction of fleet init creates several claims at one revision).
func (c claim) before(o claim) bool {
	return c.rev < o.rev || (c.rev == o.rev && c.host < o.host)
}

// claims are the first claim of every index and address, and every claim key.
type claims struct {
	index map[int]claim
	addr  map[netip.Addr]claim
	keys  map[string]bool
}

// claimsOf collects the claims among kvs.
func (k Keys) claimsOf(kvs map[string]kv) claims {
	c := claims{index: map[int]claim{}, addr: map[netip.Addr]claim{}, keys: map[string]bool{}}
	for key, e := range kvs {
		p := k.parse(key)
		one := claim{host: p.host, rev: e.createRev}
		switch p.kind {
		case kindIndex:
			if old, ok := c.index[p.index]; !ok || one.before(old) {
				c.index[p.index] = one
			}
		case kindAddress:
			if old, ok := c.addr[p.addr]; !ok || one.before(old) {
				c.addr[p.addr] = one
			}
		default:
			continue
		}
		c.keys[key] = true
	}
	return c
}

// check says why r's index and address are not r's: not claimed by r, or
// claimed first by another host.
func (c claims) check(k Keys, r Record) error {
	if !c.keys[k.IndexClaim(r.Name, r.Index)] {
		return fmt.Errorf("index %d is not claimed by %s (no key %s)", r.Index, r.Name, k.IndexClaim(r.Name, r.Index))
	}
	if first := c.index[r.Index]; first.host != r.Name {
		return fmt.Errorf("index %d was claimed first by %s (revision %d): the first claim wins", r.Index, first.host, first.rev)
	}
	if !c.keys[k.AddressClaim(r.Name, r.Address)] {
		return fmt.Errorf("address %s is not claimed by %s (no key %s)", r.Address, r.Name, k.AddressClaim(r.Name, r.Address))
	}
	if first := c.addr[r.Address]; first.host != r.Name {
		return fmt.Errorf("address %s was registered first by %s (revision %d): the first registration wins", r.Address, first.host, first.rev)
	}
	return nil
}

// family is "IPv4" or "IPv6".
func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}
