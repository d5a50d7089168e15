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

// identityExprs translates a rule of a container's chain into the expressions
// nft itself generates for its String form in a table of family bridge (nft
// lists them back as that text): "ether saddr" and "ether type" read the
// Ethernet header, "arp saddr …" check the Ethernet type first, "ip saddr"
// and "ip6 saddr" the frame's protocol (meta protocol).
func identityExprs(r topology.IdentityRule) ([]expr.Any, error) {
	var e []expr.Any
	etherType := func(t string) {
		e = append(e, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 12, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: etherTypes[t]})
	}
	protocol := func(t string) {
		e = append(e, &expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: etherTypes[t]})
	}
	load := func(base expr.PayloadBase, offset, n uint32) {
		e = append(e, &expr.Payload{DestRegister: 1, Base: base, Offset: offset, Len: n})
	}
	var value []byte
	var err error
	switch r.Match {
	case "ether saddr":
		load(expr.PayloadBaseLLHeader, 6, 6)
		value, err = mac(r.Value)
	case "arp saddr ether":
		etherType("arp")
		load(expr.PayloadBaseNetworkHeader, 8, 6)
		value, err = mac(r.Value)
	case "arp saddr ip":
		etherType("arp")
		load(expr.PayloadBaseNetworkHeader, 14, 4)
		value, err = addr(r.Value, true)
	case "ip saddr":
		protocol("ip")
		load(expr.PayloadBaseNetworkHeader, 12, 4)
		value, err = addr(r.Value, true)
	case "ip6 saddr":
		protocol("ip6")
		load(expr.PayloadBaseNetworkHeader, 8, 16)
		value, err = addr(r.Value, false)
	case "ether type":
		if etherTypes[r.Value] == nil || r.Not {
			return nil, fmt.Errorf("identity rule %q: ether type %q is not one of ip, arp, ip6, 8021q, 8021ad", r, r.Value)
		}
		etherType(r.Value)
	default:
		return nil, fmt.Errorf("identity rule %q: no match %q", r, r.Match)
	}
	if err != nil {
		return nil, fmt.Errorf("identity rule %q: %w", r, err)
	}
	if value != nil {
		op := expr.CmpOpEq
		if r.Not {
			op = expr.CmpOpNeq
		}
		e = append(e, &expr.Cmp{Op: op, Register: 1, Data: value})
	}
	switch r.Verdict {
	case topology.VerdictDrop:
		return append(e, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}), nil
	case topology.VerdictReturn:
		return append(e, &expr.Verdict{Kind: expr.VerdictReturn}), nil
	}
	return nil, fmt.Errorf("identity rule %q: verdict %q is not drop or return", r, r.Verdict)
}

func mac(s string) ([]byte, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return nil, fmt.Errorf("%q is not an Ethernet address", s)
	}
	return hw, nil
}

func addr(s string, v4 bool) ([]byte, error) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return nil, err
	case v4 && a.Is4():
		b := a.As4()
		return b[:], nil
	case !v4 && a.Is6() && !a.Is4In6():
		b := a.As16()
		return b[:], nil
	}
	return nil, fmt.Errorf("%s is not an IPv%s address", a, map[bool]string{true: "4", false: "6"}[v4])
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
