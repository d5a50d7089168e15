package topology

import (
	"slices"
	"strconv"
	"strings"
)

// Flow tables of the ovsmesh pipeline (see flowTable).
const (
	TableClassify   = 0  // tags, router advertisements, IPv4/ARP sources; then the MAC check
	TableFromLocal  = 1  // frames from the host's containers: mesh steers them into tunnels
	TableFromTunnel = 2  // mesh: frames from a peer, delivered locally only (split horizon)
	TableMACLookup  = 3  // one flow: look the source MAC up in TableMACs, then check it
	TableMACs       = 4  // learned only (mesh): source MAC → the port it was first seen on
	TableMACCheck   = 5  // a frame's source MAC must be unknown or belong to its port
	TableMACLearned = 6  // a new MAC passes only if its port's quota had room for it
	TableMACsTree   = 7  // learned only, tree mode (see macActions)
	TableMACsSTP    = 8  // learned only, stp mode
	TableSend       = 9  // mesh with bfd: the path to a peer (reg6), direct or through a relay
	TablePath       = 10 // mesh with bfd: send on the path chosen (reg7), marked
)

// PortLocal is Flow.InPort for the bridge's internal (LOCAL) port; 0 means any port.
const PortLocal = -1

// ofppLocal is the LOCAL port's number as a 16-bit OpenFlow 1.0 port, the width
// the MAC table stores.
const ofppLocal = 0xfffe

// Actions as ovs-ofctl writes them. Output and Resubmit build the others.
const (
	ActionDrop   = "drop"
	ActionNormal = "NORMAL"
	ActionLocal  = "LOCAL"
)

// Unicast matches a destination MAC address that is neither broadcast nor multicast.
const Unicast = "00:00:00:00:00:00/01:00:00:00:00:00"

// Match values of the MAC identity check, as ovs-ofctl prints them.
const (
	Multicast = "01:00:00:00:00:00/01:00:00:00:00:00" // a group address (as a source: never valid)
	Tagged    = "0x1000/0x1000"                       // vlan_tci of a frame with at least one VLAN tag
	Learned   = "0x1/0x1"                             // reg5: the learn action found room
)

// MAC identity registers: the learned table is keyed by NXM_NX_XXREG0[0..47]
// (a copy of the MAC looked up) and loads the owner port into NXM_NX_REG4;
// NXM_NX_REG5[0] tells whether learning a new MAC succeeded.
const (
	regKey     = "NXM_NX_XXREG0[0..47]"
	regOwner   = "NXM_NX_REG4[0..15]"
	regLearned = "NXM_NX_REG5[0]"
)

// MACIdleTimeout is how long (seconds) a learned MAC keeps its port without a
// frame from or to it: Linux's and OVS's default MAC ageing time, so no bridge
// forgets a MAC's port before ovsmesh does.
const MACIdleTimeout = 300

// LearnedCookie is the cookie of the MAC flows learned from frames that entered
// on OpenFlow port p (LOCAL: 0xfffe): "ovmac" in ASCII and the port's 16 bits.
// It differs from FlowCookie, so learned flows are never read, diffed, replaced
// or deleted as part of the table ovsmesh computes; each port has its own so that
// learn's limit caps each port's MACs separately.
func LearnedCookie(p int) uint64 { return 0x006f766d61630000 | uint64(p)&0xffff }

// Output is the action that sends a frame out of OpenFlow port p.
func Output(p int) string { return "output:" + strconv.Itoa(p) }

// Resubmit is the action that continues in table t.
func Resubmit(t int) string { return "resubmit(," + strconv.Itoa(t) + ")" }

// Flow is one OpenFlow flow of the desired table. Empty fields match anything. The
// cookie is always FlowCookie and is not part of the value.
type Flow struct {
	Table    int      `json:"table"`
	Priority int      `json:"priority"`
	InPort   int      `json:"in_port,omitempty"` // OpenFlow port, PortLocal, or 0 for any
	Proto    string   `json:"proto,omitempty"`   // "ip", "arp", "ipv6", "icmp6" or ""
	DlSrc    string   `json:"dl_src,omitempty"`
	DlDst    string   `json:"dl_dst,omitempty"`
	VLANTCI  string   `json:"vlan_tci,omitempty"`
	NwSrc    string   `json:"nw_src,omitempty"`
	NwDst    string   `json:"nw_dst,omitempty"`
	NwFrag   string   `json:"nw_frag,omitempty"`   // "yes": any fragment
	ICMPType string   `json:"icmp_type,omitempty"` // with Proto icmp6
	ArpSPA   string   `json:"arp_spa,omitempty"`
	ArpTPA   string   `json:"arp_tpa,omitempty"`
	Reg4     string   `json:"reg4,omitempty"`   // the owner port of the MAC looked up
	Reg5     string   `json:"reg5,omitempty"`   // learn's result
	Reg6     string   `json:"reg6,omitempty"`   // the tunnel a frame is for (TableSend)
	Reg7     string   `json:"reg7,omitempty"`   // the tunnel chosen to carry it (TablePath)
	TunID    string   `json:"tun_id,omitempty"` // the tunnel key: a relay mark
	Actions  []string `json:"actions"`
}

// fields returns the flow's match fields other than protocol and in_port as
// key=value, sorted (a match is a set): the order the canonical text uses.
func (f Flow) fields() []string {
	var kv []string
	for _, m := range [...]struct{ k, v string }{
		{"arp_spa", f.ArpSPA}, {"arp_tpa", f.ArpTPA}, {"dl_dst", f.DlDst}, {"dl_src", f.DlSrc},
		{"icmp_type", f.ICMPType}, {"nw_dst", f.NwDst}, {"nw_frag", f.NwFrag}, {"nw_src", f.NwSrc},
		{"reg4", f.Reg4}, {"reg5", f.Reg5}, {"reg6", f.Reg6}, {"reg7", f.Reg7},
		{"tun_id", f.TunID}, {"vlan_tci", f.VLANTCI},
	} {
		if m.v != "" {
			kv = append(kv, m.k+"="+m.v)
		}
	}
	slices.Sort(kv)
	return kv
}

// Match returns the flow's match in ovs-ofctl syntax, without table and priority:
// protocol, in_port, then the other fields sorted.
func (f Flow) Match() string {
	var parts []string
	if f.Proto != "" {
		parts = append(parts, f.Proto)
	}
	switch {
	case f.InPort == PortLocal:
		parts = append(parts, "in_port=LOCAL")
	case f.InPort != 0:
		parts = append(parts, "in_port="+strconv.Itoa(f.InPort))
	}
	return strings.Join(append(parts, f.fields()...), ",")
}

// String returns the flow in ovs-ofctl add-flow syntax (without the cookie).
func (f Flow) String() string {
	s := "table=" + strconv.Itoa(f.Table) + ",priority=" + strconv.Itoa(f.Priority)
	if m := f.Match(); m != "" {
		s += "," + m
	}
	return s + ",actions=" + strings.Join(f.Actions, ",")
}

// Equal reports whether two flows are the same.
func (f Flow) Equal(o Flow) bool {
	return f.Table == o.Table && f.Priority == o.Priority && f.InPort == o.InPort &&
		f.Proto == o.Proto && f.DlSrc == o.DlSrc && f.DlDst == o.DlDst && f.VLANTCI == o.VLANTCI &&
		f.NwSrc == o.NwSrc && f.NwDst == o.NwDst && f.NwFrag == o.NwFrag && f.ICMPType == o.ICMPType &&
		f.ArpSPA == o.ArpSPA && f.ArpTPA == o.ArpTPA && f.Reg4 == o.Reg4 && f.Reg5 == o.Reg5 &&
		f.Reg6 == o.Reg6 && f.Reg7 == o.Reg7 && f.TunID == o.TunID &&
		slices.Equal(f.Actions, o.Actions)
}

// regValue writes a register value the way ovs-ofctl prints it.
func regValue(v int) string {
	if v == 0 {
		return "0"
	}
	b := make([]byte, 0, 8)
	return string(strconv.AppendInt(append(b, "0x"...), int64(v), 16))
}

// ofPort16 is an OpenFlow port as the 16 bits the MAC table stores.
func ofPort16(p int) int {
	if p == PortLocal {
		return ofppLocal
	}
	return p
}

// checkMAC is the action of every frame table 0 lets through; TableMACLookup's
// one flow, lookupSrc, copies the frame's source MAC into the key register, looks
// it up in the learned table and checks the result. (One flow holds the long
// action, rather than every flow of table 0: that keeps the dump of a 1000-host
// table, read on every pass, a third shorter.)
var checkMAC = []string{Resubmit(TableMACLookup)}

// macActions are the actions of the MAC identity check of one mode. Each mode
// learns into a table of its own: learned flows outlive the table that learned
// them (they age out after MACIdleTimeout), and a MAC learned under another mode's
// rules would be judged by the new mode's (after a switch from stp to mesh, a MAC
// learned behind the tunnel STP used would be refused on the direct tunnel for
// five minutes). Flows learned under the old mode then sit unused until they age out.
type macActions struct {
	table int
	// lookupSrc looks the frame's source MAC up and judges it in TableMACCheck.
	lookupSrc []string
	// lookupDst sends a unicast frame to the port its destination MAC was learned
	// on; an unknown MAC leaves the register 0, which outputs nothing, and a local
	// one is the frame's own in_port, which OVS never outputs to.
	lookupDst []string
}

func newMACActions(table int) macActions {
	return macActions{
		table:     table,
		lookupSrc: []string{"move:NXM_OF_ETH_SRC[]->" + regKey, Resubmit(table), Resubmit(TableMACCheck)},
		lookupDst: []string{"move:NXM_OF_ETH_DST[]->" + regKey, "load:0->NXM_NX_REG4[]", Resubmit(table), "output:" + regOwner},
	}
}

var (
	macsMesh = newMACActions(TableMACs)
	macsTree = newMACActions(TableMACsTree)
	macsSTP  = newMACActions(TableMACsSTP)
)

// learn is the action that records the frame's source MAC as belonging to its
// in_port, with that port's cookie, while the port holds fewer than limit MACs;
// NXM_NX_REG5[0] tells whether it did.
func (m macActions) learn(port, limit int) string {
	b := make([]byte, 0, 192)
	b = append(b, "learn(table="...)
	b = strconv.AppendInt(b, int64(m.table), 10)
	b = append(b, ",idle_timeout="...)
	b = strconv.AppendInt(b, MACIdleTimeout, 10)
	b = append(b, ",priority=100,cookie=0x"...)
	b = strconv.AppendUint(b, LearnedCookie(ofPort16(port)), 16)
	b = append(b, ",limit="...)
	b = strconv.AppendInt(b, int64(limit), 10)
	b = append(b, ",result_dst="+regLearned+","+regKey+",load:NXM_OF_IN_PORT[]->"+regOwner+")"...)
	return string(b)
}

// unknown is table 5's flow for a frame from port p whose source MAC is not known
// yet: learn it for p, within p's quota.
func (m macActions) unknown(port, priority, macs int) Flow {
	return Flow{Table: TableMACCheck, Priority: priority, InPort: port, Reg4: "0",
		Actions: []string{m.learn(port, macs), Resubmit(TableMACLearned)}}
}
