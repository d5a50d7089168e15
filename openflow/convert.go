package openflow

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/digitalocean/go-openvswitch/ovs"

	"github.com/ovsmesh/ovsmesh/topology"
)

// toOVS converts one flow of the desired table into go-openvswitch's form, with
// ovsmesh's cookie, for the bundle. It fails on a protocol or action it does not
// know, so that a flow is never installed with a part silently missing.
func toOVS(f topology.Flow) (*ovs.Flow, error) {
	o := &ovs.Flow{Table: f.Table, Priority: f.Priority, Cookie: topology.FlowCookie}
	switch f.Proto {
	case "":
	case "ip":
		o.Protocol = ovs.ProtocolIPv4
	case "arp":
		o.Protocol = ovs.ProtocolARP
	case "ipv6":
		o.Protocol = ovs.ProtocolIPv6
	case "icmp6":
		o.Protocol = ovs.ProtocolICMPv6
	default:
		return nil, fmt.Errorf("flow %q: unknown protocol %q", f, f.Proto)
	}
	switch {
	case f.InPort == topology.PortLocal:
		o.InPort = ovs.PortLOCAL
	case f.InPort > 0:
		o.InPort = f.InPort
	case f.InPort != 0:
		return nil, fmt.Errorf("flow %q: invalid in_port %d", f, f.InPort)
	}
	// The order is the one Flow.Match writes.
	for _, m := range matchFields(&f) {
		o.Matches = append(o.Matches, toMatch(m))
	}
	for _, s := range f.Actions {
		a, err := toAction(s)
		if err != nil {
			return nil, fmt.Errorf("flow %q: %w", f, err)
		}
		o.Actions = append(o.Actions, a)
	}
	return o, nil
}

// toAction converts one action of topology's vocabulary (topology.Output,
// topology.Resubmit, ActionLocal, ActionNormal, ActionDrop).
func toAction(s string) (ovs.Action, error) {
	switch s {
	case topology.ActionDrop:
		return ovs.Drop(), nil
	case topology.ActionNormal:
		return ovs.Normal(), nil
	case topology.ActionLocal:
		return ovs.Local(), nil
	}
	if nxAction(s) {
		return rawAction(s), nil
	}
	if n, ok, err := outputPort(s); ok {
		if err != nil {
			return nil, err
		}
		return ovs.Output(n), nil
	}
	if n, ok, err := resubmitTable(s); ok {
		if err != nil {
			return nil, err
		}
		return ovs.Resubmit(0, n), nil
	}
	return nil, fmt.Errorf("unknown action %q", s)
}

// toMatch converts one match field: addresses through go-openvswitch's own
// matches, which write them in ovs-ofctl's syntax whatever form net.ParseMAC or
// the IPv4 parser took them in, the others as they are written.
func toMatch(m matchField) ovs.Match {
	switch m.key {
	case "arp_spa":
		return ovs.ARPSourceProtocolAddress(m.val)
	case "arp_tpa":
		return ovs.ARPTargetProtocolAddress(m.val)
	case "dl_dst":
		return ovs.DataLinkDestination(m.val)
	case "dl_src":
		return ovs.DataLinkSource(m.val)
	case "nw_dst":
		return ovs.NetworkDestination(m.val)
	case "nw_src":
		return ovs.NetworkSource(m.val)
	}
	return ovs.FieldMatch(m.key, m.val)
}

// nxAction reports whether s is one of the Open vSwitch extension actions of the
// MAC identity check (move, load, learn, output to a register's port). They
// are written exactly as ovs-ofctl prints them, so they go to the bundle and
// into the canonical text unchanged.
func nxAction(s string) bool {
	if s == topology.ActionReclassify {
		return true // go-openvswitch's Resubmit refuses table 0
	}
	for _, p := range [...]string{"move:NXM_", "load:", "learn(", "output:NXM_", "bundle_load("} {
		if strings.HasPrefix(s, p) && !strings.ContainsAny(s, " \t\n") {
			return true
		}
	}
	return false
}

// rawAction is an action sent to ovs-ofctl as it is written.
type rawAction string

func (a rawAction) MarshalText() ([]byte, error) { return []byte(a), nil }
func (a rawAction) GoString() string             { return fmt.Sprintf("rawAction(%q)", string(a)) }

// matchField is one match field of a flow other than protocol and in_port.
type matchField struct {
	key, val string
	kind     byte // 'i' IPv4 address or prefix, 'm' MAC address, 'r' as printed
}

// matchFields returns the flow's match fields other than protocol and in_port,
// sorted by key (as Flow.Match writes them: no key is a prefix of another, so
// that is also the order of the key=value texts).
func matchFields(f *topology.Flow) []matchField {
	all := [...]matchField{
		{"arp_spa", f.ArpSPA, 'i'}, {"arp_tpa", f.ArpTPA, 'i'}, {"dl_dst", f.DlDst, 'm'},
		{"dl_src", f.DlSrc, 'm'}, {"icmp_type", f.ICMPType, 'r'}, {"nw_dst", f.NwDst, 'i'},
		{"nw_frag", f.NwFrag, 'r'}, {"nw_src", f.NwSrc, 'i'}, {"reg4", f.Reg4, 'r'},
		{"reg5", f.Reg5, 'r'}, {"reg6", f.Reg6, 'r'}, {"reg7", f.Reg7, 'r'},
		{"tun_id", f.TunID, 'r'}, {"vlan_tci", f.VLANTCI, 'r'},
	}
	out := make([]matchField, 0, 3)
	for _, m := range all {
		if m.val != "" {
			out = append(out, m)
		}
	}
	return out
}

// outputPort parses "output:N": ok tells whether s has that form at all.
func outputPort(s string) (n int, ok bool, err error) {
	p, ok := strings.CutPrefix(s, "output:")
	if !ok {
		return 0, false, nil
	}
	n, err = strconv.Atoi(p)
	if err != nil || n <= 0 {
		return 0, true, fmt.Errorf("action %q: invalid port", s)
	}
	return n, true, nil
}

// resubmitTable parses "resubmit(,N)": ok tells whether s has that form at all.
func resubmitTable(s string) (n int, ok bool, err error) {
	t, ok := strings.CutPrefix(s, "resubmit(,")
	if !ok || !strings.HasSuffix(t, ")") {
		return 0, false, nil
	}
	n, err = strconv.Atoi(strings.TrimSuffix(t, ")"))
	if err != nil || n <= 0 {
		// resubmit(,0) would need Resubmit(0, 0), which go-openvswitch refuses.
		return 0, true, fmt.Errorf("action %q: invalid table", s)
	}
	return n, true, nil
}

// canonical returns a wanted flow's identity (table, priority and match: what
// OpenFlow uses to tell flows apart) and its full text (identity and actions),
// in the form dumpEntries gives the flows ovs-vswitchd prints:
//
//	table=1,priority=100,ip,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00,nw_dst=172.17.0.2,actions=output:32770
//
// That is table, priority, protocol and in_port, then the other match fields
// sorted (a match is a set), then the actions. It accepts the flows toOVS and
// go-openvswitch accept (except IPv4 in IPv6 forms such as ::ffff:10.0.0.1,
// which netip refuses) and writes each value the way ovs-vswitchd prints it
// back: a /32 IPv4 prefix as a bare address, host bits under a mask cleared, MAC
// addresses in lower case and an all-ones MAC mask dropped. For every flow
// topology computes, the text equals topology.Flow.String() (tested), and id is a
// prefix of text.
func canonical(f *topology.Flow) (id, text string, err error) {
	b := make([]byte, 0, 128)
	b = append(b, "table="...)
	b = strconv.AppendInt(b, int64(f.Table), 10)
	b = append(b, ",priority="...)
	b = strconv.AppendInt(b, int64(f.Priority), 10)
	switch f.Proto {
	case "":
	case "ip", "arp", "ipv6", "icmp6":
		b = append(b, ',')
		b = append(b, f.Proto...)
	default:
		return "", "", fmt.Errorf("flow %q: unknown protocol %q", f, f.Proto)
	}
	switch {
	case f.InPort == topology.PortLocal:
		b = append(b, ",in_port=LOCAL"...)
	case f.InPort > 0:
		b = append(b, ",in_port="...)
		b = strconv.AppendInt(b, int64(f.InPort), 10)
	case f.InPort != 0:
		return "", "", fmt.Errorf("flow %q: invalid in_port %d", f, f.InPort)
	}
	// The other match fields in sorted order (a match is a set).
	for _, m := range matchFields(f) {
		b = append(b, ',')
		b = append(b, m.key...)
		b = append(b, '=')
		switch m.kind {
		case 'm':
			b, err = appendMAC(b, m.val)
		case 'i':
			b, err = appendIPv4(b, m.val)
		default:
			b, err = appendPrinted(b, m.val)
		}
		if err != nil {
			return "", "", fmt.Errorf("flow %q: %s: %w", f, m.key, err)
		}
	}
	idLen := len(b)
	b = append(b, ",actions="...)
	for i, s := range f.Actions {
		a, err := canonicalAction(s)
		if err != nil {
			return "", "", fmt.Errorf("flow %q: %w", f, err)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, a...)
	}
	text = string(b)
	return text[:idLen], text, nil
}

// canonicalAction validates an action of topology's vocabulary as toAction does
// and returns it as ovs-ofctl prints it.
func canonicalAction(s string) (string, error) {
	switch s {
	case topology.ActionDrop, topology.ActionNormal, topology.ActionLocal:
		return s, nil
	}
	if nxAction(s) {
		return s, nil
	}
	if n, ok, err := outputPort(s); ok {
		if err != nil {
			return "", err
		}
		return reprint(s, "output:", n, ""), nil
	}
	if n, ok, err := resubmitTable(s); ok {
		if err != nil {
			return "", err
		}
		return reprint(s, "resubmit(,", n, ")"), nil
	}
	return "", fmt.Errorf("unknown action %q", s)
}

// appendPrinted appends a value written the way ovs-ofctl prints it (a decimal
// or 0x number, "yes", VALUE/MASK): one without a character of that vocabulary
// is refused rather than compared as text that can never match a dump.
func appendPrinted(b []byte, v string) ([]byte, error) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && c != '/' {
			return b, fmt.Errorf("%q is not a value as ovs-ofctl prints it", v)
		}
	}
	if v == "" {
		return b, fmt.Errorf("empty value")
	}
	return append(b, v...), nil
}

// reprint returns prefix+n+suffix, which is s itself unless s wrote n
// differently ("output:+7", "output:007").
func reprint(s, prefix string, n int, suffix string) string {
	if d := s[len(prefix) : len(s)-len(suffix)]; len(d) > 0 && d[0] != '0' && d[0] != '+' {
		return s
	}
	return prefix + strconv.Itoa(n) + suffix
}

// appendIPv4 accepts an IPv4 address or ADDR/LEN and appends it as ovs-ofctl
// prints it: a bare address for a host, the masked prefix otherwise. A dotted
// mask is refused, as go-openvswitch refuses it.
func appendIPv4(b []byte, v string) ([]byte, error) {
	if strings.IndexByte(v, '/') >= 0 {
		if p, err := netip.ParsePrefix(v); err == nil && p.Addr().Is4() {
			if p.Bits() == 32 {
				return p.Addr().AppendTo(b), nil
			}
			return p.Masked().AppendTo(b), nil
		}
	} else if a, err := netip.ParseAddr(v); err == nil && a.Is4() {
		return append(b, v...), nil // netip takes only the dotted-decimal form it prints
	}
	return b, fmt.Errorf("%q is not an IPv4 address or prefix", v)
}

// appendMAC accepts a MAC address or ADDR/MASK in any form net.ParseMAC takes
// (as go-openvswitch does) and appends it as ovs-ofctl prints it: lower case,
// colons, no all-ones mask.
func appendMAC(b []byte, v string) ([]byte, error) {
	addr, mask, masked := strings.Cut(v, "/")
	if printedMAC(addr) && (!masked || printedMAC(mask) && mask != "ff:ff:ff:ff:ff:ff") {
		return append(b, v...), nil // already as printed (topology.Unicast)
	}
	a, err := net.ParseMAC(addr)
	if err != nil || len(a) != 6 {
		return b, fmt.Errorf("%q is not a MAC address", v)
	}
	b = append(b, a.String()...)
	if masked {
		m, err := net.ParseMAC(mask)
		if err != nil || len(m) != 6 {
			return b, fmt.Errorf("%q: invalid MAC mask", v)
		}
		if s := m.String(); s != "ff:ff:ff:ff:ff:ff" {
			b = append(b, '/')
			b = append(b, s...)
		}
	}
	return b, nil
}

// printedMAC reports whether s is a MAC address as ovs-ofctl prints it
// (aa:bb:cc:dd:ee:ff).
func printedMAC(s string) bool {
	if len(s) != 17 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i%3 == 2 {
			if c != ':' {
				return false
			}
		} else if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// normField normalizes one key=value match field of a dump (see dumpEntries),
// returning kv itself when it is already in canonical form.
func normField(kv string) string {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return kv
	}
	var n string
	switch k {
	case "nw_src", "nw_dst", "arp_spa", "arp_tpa":
		n = normIPv4(v)
	case "dl_src", "dl_dst":
		n = strings.TrimSuffix(strings.ToLower(v), "/ff:ff:ff:ff:ff:ff")
	default:
		return kv
	}
	if n == v {
		return kv
	}
	return k + "=" + n
}

// normIPv4 writes an IPv4 ADDR/LEN the way ovs-ofctl prints it: a bare address
// for a host, the masked prefix otherwise. Anything else (a bare address, a
// dotted mask) is returned as it is.
func normIPv4(v string) string {
	if strings.IndexByte(v, '/') < 0 {
		return v // a bare address (and no error value to allocate)
	}
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() {
		return v
	}
	if p.Bits() == 32 {
		return p.Addr().String()
	}
	if m := p.Masked(); m != p {
		return m.String()
	}
	return v
}

// normAction writes one action the way ovs-ofctl prints it (go-openvswitch's
// local and normal are ovs-ofctl's LOCAL and NORMAL).
func normAction(a string) string {
	switch a {
	case "local", "output:LOCAL":
		return topology.ActionLocal
	case "normal", "output:NORMAL":
		return topology.ActionNormal
	}
	return a
}
