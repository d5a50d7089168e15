package firewall

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"

	"github.com/ovsmesh/ovsmesh/topology"
)

// family is the table's family: inet, both IPv4 and IPv6.
const family = nftables.TableFamilyINet

// exprs translates a rule into the nftables expressions nft itself would
// generate for its String form (`nft list` prints it back the same way).
func exprs(r topology.FirewallRule) ([]expr.Any, error) {
	var e []expr.Any
	if r.InIface != "" {
		e = append(e, &expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(r.InIface)})
	}
	if r.NotOut != "" {
		e = append(e, &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname(r.NotOut)})
	}
	if s := r.Source; s.IsValid() {
		if !s.Addr().Is4() {
			return nil, fmt.Errorf("firewall rule %q: source %s is not IPv4", r, s)
		}
		e = append(e, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4})
		if s.Bits() < 32 {
			e = append(e, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: net.CIDRMask(s.Bits(), 32), Xor: []byte{0, 0, 0, 0}})
		}
		a := s.Masked().Addr().As4()
		e = append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]})
	}
	switch r.Protocol {
	case topology.ProtoGRE:
		if r.DstPort != 0 {
			return nil, fmt.Errorf("firewall rule %q: gre has no ports", r)
		}
		e = append(e, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_GRE}})
	case topology.ProtoUDP:
		if r.DstPort < 1 || r.DstPort > 65535 {
			return nil, fmt.Errorf("firewall rule %q: want a UDP port from 1 to 65535", r)
		}
		e = append(e, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, uint16(r.DstPort))})
	default:
		return nil, fmt.Errorf("firewall rule %q: protocol %q is not gre or udp", r, r.Protocol)
	}
	return append(e, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}), nil
}

// ifname is an interface name as nft compares it: IFNAMSIZ bytes, zero-padded.
func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

// comment is the rule's user data: its text as an nft comment, so that `nft list
// table inet ovsmesh` says what each rule is for, and `ovsmesh status` names it.
// Without double quotes: nft prints a comment between them, unescaped, and a
// saved ruleset (`nft list ruleset > file`) must still load.
func comment(r topology.FirewallRule) []byte {
	return userdata.AppendString(nil, userdata.TypeComment, strings.ReplaceAll(r.String(), `"`, ""))
}

// ruleText returns the text a rule was written with (its comment), or "".
func ruleText(r *nftables.Rule) string {
	s, _ := userdata.GetString(r.UserData, userdata.TypeComment)
	return s
}

// sameRule reports whether a rule read from the kernel is want (its
// expressions and comment), whatever its counter says.
func sameRule(have *nftables.Rule, want []expr.Any, wantData []byte) (bool, error) {
	if !bytes.Equal(have.UserData, wantData) || len(have.Exprs) != len(want) {
		return false, nil
	}
	for i, e := range have.Exprs {
		if _, ok := e.(*expr.Counter); ok {
			e = &expr.Counter{}
		}
		a, err := expr.Marshal(byte(family), e)
		if err != nil {
			return false, err
		}
		b, err := expr.Marshal(byte(family), want[i])
		if err != nil {
			return false, err
		}
		if !bytes.Equal(a, b) {
			return false, nil
		}
	}
	return true, nil
}

// packets returns the packet count of a rule's counter.
func packets(r *nftables.Rule) uint64 {
	for _, e := range r.Exprs {
		if c, ok := e.(*expr.Counter); ok {
			return c.Packets
		}
	}
	return 0
}
