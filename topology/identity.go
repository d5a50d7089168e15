package topology

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// IdentityTableName is the name of the nftables table of family bridge that
// holds the per-container identity checks (see Identity). It is not the table
// of family inet of the same name (FirewallTable): nftables keeps tables of
// different families apart.
const IdentityTableName = "ovsmesh"

// IdentityPriority is the priority of the identity table's base chain (hook
// prerouting): the bridge family's "filter" priority. A drop is final across
// base chains, so the order against other tables does not matter for it.
const IdentityPriority = -200

// IdentityChainPrefix starts the name of every per-container chain: "from-"
// and the container's host-side veth.
const IdentityChainPrefix = "from-"

// Container is one of Docker's containers on a Linux bridge: what Docker
// reports of its endpoint (MAC, addresses) and its process, and the host-side
// veth of that endpoint (found by linuxbridge from the container's side).
type Container struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Network string `json:"network"` // Docker's name for the network
	Bridge  string `json:"bridge"`  // its Linux bridge
	// MAC is the endpoint's Ethernet address as Docker assigned it, lowercase
	// ("02:42:ac:11:00:02").
	MAC  string     `json:"mac"`
	IPv4 netip.Addr `json:"ipv4,omitzero"` // zero: none (an IPv6-only network)
	IPv6 netip.Addr `json:"ipv6,omitzero"` // zero: none (Docker's default)
	// Pid is the container's main process, whose network namespace holds the
	// endpoint's interface; 0 when Docker reports none (not running yet).
	Pid  int    `json:"pid"`
	Veth string `json:"veth"` // the host-side interface; "" until found
}

// Identity is the identity table: for every container whose veth is known, a
// chain of checks that the frames entering the bridge from that veth carry
// the container's own identity. Chains are sorted by veth.
type Identity struct {
	Table  string          `json:"table"` // family bridge
	Chains []IdentityChain `json:"chains"`
}

// IdentityChain is the chain of one container's veth; the base chain jumps to
// it for frames whose input interface is the veth.
type IdentityChain struct {
	Veth      string         `json:"veth"`
	Container string         `json:"container"` // its name, for the reader
	Rules     []IdentityRule `json:"rules"`
}

// Name is the chain's name in the table.
func (c IdentityChain) Name() string { return IdentityChainPrefix + c.Veth }

// IdentityRule is one rule of a container's chain, in nft's syntax: Match
// (!= when Not) Value, then Verdict. Drops are counted.
type IdentityRule struct {
	// Match is "ether saddr", "arp saddr ether", "arp saddr ip", "ip saddr",
	// "ip6 saddr" or "ether type".
	Match   string `json:"match"`
	Not     bool   `json:"not,omitempty"`
	Value   string `json:"value"`
	Verdict string `json:"verdict"` // "drop" or "return"
}

// Identity verdicts.
const (
	VerdictDrop   = "drop"
	VerdictReturn = "return"
)

// String writes the rule as nft lists it (without the counter's values), e.g.
// `ip saddr != 172.17.0.2 counter drop`.
func (r IdentityRule) String() string {
	b := []string{r.Match}
	if r.Not {
		b = append(b, "!=")
	}
	b = append(b, r.Value)
	if r.Verdict == VerdictDrop {
		b = append(b, "counter")
	}
	return strings.Join(append(b, r.Verdict), " ")
}

// IdentityRules returns the checks of one container's veth, in order:
//
//   - the Ethernet source must be its MAC;
//   - ARP must carry its MAC and IPv4 address as the sender (no IPv4: no ARP);
//   - IPv4 must come from its address (no IPv4: no IPv4). Docker assigns
//     addresses itself (no DHCP), so 0.0.0.0 is not let through;
//   - with an IPv6 address, IPv6 must come from it, from the link-local
//     address of its MAC (EUI-64, which the kernel gives eth0) or from ::
//     (duplicate address detection); without one, all IPv6 is dropped: Docker
//     turns IPv6 off in such a container (disable_ipv6=1 on all its
//     interfaces, measured with Docker 20.10), so only a forged frame carries
//     it, and link-local IPv6 would otherwise be an identity left to take;
//   - VLAN-tagged frames (802.1Q, 802.1ad) are dropped: a tag hides the inner
//     frame's type from the checks above, and Docker's bridges carry none.
func IdentityRules(c Container) []IdentityRule {
	drop := func(match string, not bool, v string) IdentityRule {
		return IdentityRule{Match: match, Not: not, Value: v, Verdict: VerdictDrop}
	}
	rules := []IdentityRule{drop("ether saddr", true, c.MAC)}
	if c.IPv4.IsValid() {
		a := c.IPv4.String()
		rules = append(rules, drop("arp saddr ether", true, c.MAC), drop("arp saddr ip", true, a), drop("ip saddr", true, a))
	} else {
		rules = append(rules, drop("ether type", false, "arp"), drop("ether type", false, "ip"))
	}
	if c.IPv6.IsValid() {
		v6 := []netip.Addr{c.IPv6}
		if ll, ok := LinkLocal(c.MAC); ok {
			v6 = append(v6, ll)
		}
		for _, a := range append(v6, netip.IPv6Unspecified()) {
			rules = append(rules, IdentityRule{Match: "ip6 saddr", Value: a.String(), Verdict: VerdictReturn})
		}
	}
	return append(rules, drop("ether type", false, "ip6"), drop("ether type", false, "8021q"), drop("ether type", false, "8021ad"))
}

// LinkLocal returns the IPv6 link-local address the kernel derives from an
// Ethernet address (modified EUI-64, RFC 4291 appendix A).
func LinkLocal(mac string) (netip.Addr, bool) {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return netip.Addr{}, false
	}
	a := [16]byte{0: 0xfe, 1: 0x80}
	copy(a[8:], []byte{hw[0] ^ 0x02, hw[1], hw[2], 0xff, 0xfe, hw[3], hw[4], hw[5]})
	return netip.AddrFrom16(a), true
}

// ContainerBridges returns the Linux bridges whose containers' identities a
// host enforces: the docker bridge and the bridges of the Docker networks.
func (s HostState) ContainerBridges() []string {
	var out []string
	if s.Docker.Name != "" {
		out = append(out, s.Docker.Name)
	}
	return append(out, s.Bridges()...)
}

// PlanIdentity returns the identity table for the containers whose veth is
// known (the others are left out: the caller reports them). It fails, naming
// the container, on a MAC or address that is not one, an interface name nft
// cannot match (over 15 bytes), or two containers on one veth.
func PlanIdentity(cs []Container) (Identity, error) {
	out := Identity{Table: IdentityTableName}
	var errs []error
	seen := map[string]string{}
	for _, c := range cs {
		if c.Veth == "" {
			continue
		}
		if err := c.check(); err != nil {
			errs = append(errs, err)
			continue
		}
		if other, ok := seen[c.Veth]; ok {
			errs = append(errs, fmt.Errorf("containers %s and %s: both on interface %q", other, c.Name, c.Veth))
			continue
		}
		seen[c.Veth] = c.Name
		out.Chains = append(out.Chains, IdentityChain{Veth: c.Veth, Container: c.Name, Rules: IdentityRules(c)})
	}
	slices.SortFunc(out.Chains, func(a, b IdentityChain) int { return cmp.Compare(a.Veth, b.Veth) })
	return out, errors.Join(errs...)
}

// check validates what Docker and the kernel reported of a container.
func (c Container) check() error {
	hw, err := net.ParseMAC(c.MAC)
	switch {
	case err != nil || len(hw) != 6:
		return fmt.Errorf("container %s: MAC %q is not an Ethernet address", c.Name, c.MAC)
	case hw.String() != c.MAC:
		return fmt.Errorf("container %s: MAC %q is not in the form %s", c.Name, c.MAC, hw)
	case c.IPv4.IsValid() && !c.IPv4.Is4():
		return fmt.Errorf("container %s: IPv4 address %s is not IPv4", c.Name, c.IPv4)
	case c.IPv6.IsValid() && (!c.IPv6.Is6() || c.IPv6.Is4In6()):
		return fmt.Errorf("container %s: IPv6 address %s is not IPv6", c.Name, c.IPv6)
	case len(c.Veth) > 15 || strings.ContainsAny(c.Veth, "/ \"\x00"):
		return fmt.Errorf("container %s: interface name %q is not one", c.Name, c.Veth)
	}
	return nil
}

// Lines writes the table one line per chain and rule, as nft lists it:
// "chain from-veth1 (container c1)" then "  <rule>".
func (id Identity) Lines() []string {
	var out []string
	for _, c := range id.Chains {
		out = append(out, fmt.Sprintf("chain %s (container %s)", c.Name(), c.Container))
		for _, r := range c.Rules {
			out = append(out, "  "+r.String())
		}
	}
	return out
}

// Equal reports whether two identity tables are the same.
func (id Identity) Equal(o Identity) bool {
	return id.Table == o.Table && slices.EqualFunc(id.Chains, o.Chains, func(a, b IdentityChain) bool {
		return a.Veth == b.Veth && a.Container == b.Container && slices.Equal(a.Rules, b.Rules)
	})
}
