package firewall

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Ethernet types, in network byte order, by nft's names.
var etherTypes = map[string][]byte{
	"ip": {0x08, 0x00}, "arp": {0x08, 0x06}, "ip6": {0x86, 0xdd}, "8021q": {0x81, 0x00}, "8021ad": {0x88, 0xa8},
}

// field is where a rule's Match reads: after a check of the frame's type
// (guard: "ether" reads the Ethernet header's type, "meta" the frame's
// protocol, as nft does for each), the payload at offset of base, n bytes,
// compared with the rule's Value as parse writes it.
type field struct {
	guard, proto string
	base         expr.PayloadBase
	offset, n    uint32
	parse        func(string) ([]byte, error)
}

var fields = map[string]field{
	"ether saddr":     {"", "", expr.PayloadBaseLLHeader, 6, 6, mac},
	"arp saddr ether": {"ether", "arp", expr.PayloadBaseNetworkHeader, 8, 6, mac},
	"arp saddr ip":    {"ether", "arp", expr.PayloadBaseNetworkHeader, 14, 4, ipv4},
	"ip saddr":        {"meta", "ip", expr.PayloadBaseNetworkHeader, 12, 4, ipv4},
	"ip6 saddr":       {"meta", "ip6", expr.PayloadBaseNetworkHeader, 8, 16, ipv6},
}

// identityExprs translates a rule of a container's chain into the expressions
// nft itself generates for its String form in a table of family bridge (nft
// lists them back as that text).
func identityExprs(r topology.IdentityRule) ([]expr.Any, error) {
	var e []expr.Any
	if r.Match == "ether type" {
		if etherTypes[r.Value] == nil || r.Not {
			return nil, fmt.Errorf("identity rule %q: ether type %q is not one of ip, arp, ip6, 8021q, 8021ad", r, r.Value)
		}
		e = etherType(r.Value)
	} else {
		f, ok := fields[r.Match]
		if !ok {
			return nil, fmt.Errorf("identity rule %q: no match %q", r, r.Match)
		}
		value, err := f.parse(r.Value)
		if err != nil {
			return nil, fmt.Errorf("identity rule %q: %w", r, err)
		}
		switch f.guard {
		case "ether":
			e = etherType(f.proto)
		case "meta":
			e = []expr.Any{&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: etherTypes[f.proto]}}
		}
		op := expr.CmpOpEq
		if r.Not {
			op = expr.CmpOpNeq
		}
		e = append(e, &expr.Payload{DestRegister: 1, Base: f.base, Offset: f.offset, Len: f.n},
			&expr.Cmp{Op: op, Register: 1, Data: value})
	}
	switch r.Verdict {
	case topology.VerdictDrop:
		return append(e, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}), nil
	case topology.VerdictReturn:
		return append(e, &expr.Verdict{Kind: expr.VerdictReturn}), nil
	}
	return nil, fmt.Errorf("identity rule %q: verdict %q is not drop or return", r, r.Verdict)
}

// etherType matches the Ethernet header's type.
func etherType(t string) []expr.Any {
	return []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 12, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: etherTypes[t]}}
}

func mac(s string) ([]byte, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return nil, fmt.Errorf("%q is not an Ethernet address", s)
	}
	return hw, nil
}

func ipv4(s string) ([]byte, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return nil, fmt.Errorf("%q is not an IPv4 address", s)
	}
	b := a.As4()
	return b[:], nil
}

func ipv6(s string) ([]byte, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Is4In6() {
		return nil, fmt.Errorf("%q is not an IPv6 address", s)
	}
	b := a.As16()
	return b[:], nil
}

// jumpExprs is the base chain's rule for a container's veth: frames whose
// input interface is the veth go through the container's chain.
func jumpExprs(c topology.IdentityChain) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(c.Veth)},
		&expr.Verdict{Kind: expr.VerdictJump, Chain: c.Name()},
	}
}

// identityComment is a rule's user data: its text as an nft comment (see
// comment), for the jump the container's name.
func identityComment(text string) []byte {
	return userdata.AppendString(nil, userdata.TypeComment, text)
}

// jumpText is the comment of a container's jump: "container NAME".
func jumpText(c topology.IdentityChain) string { return "container " + c.Container }
