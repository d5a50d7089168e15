package topology

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// ActionReclassify runs a frame through table 0 again (after its in_port was
// rewritten: see relayAccepts).
const ActionReclassify = "resubmit(,0)"

// Registers of the relay tables: reg6 holds the tunnel port a frame is for,
// reg7 the tunnel port bundle_load chose to carry it.
const (
	regDest  = "NXM_NX_REG6[]"
	regVia   = "NXM_NX_REG7[0..15]"
	tunID    = "NXM_NX_TUN_ID[]"
	noMember = 0xffff // what bundle_load loads when no member is alive
)

// Relay mark match values, as ovs-ofctl prints them.
var (
	anyRelayedFrom = hexValue(markRelayedFrom) + "/" + hexValue(markRelayedFrom)
	anyRelayTo     = hexValue(markRelayTo) + "/" + hexValue(markRelayTo)
)

func hexValue(v int) string { return "0x" + strconv.FormatInt(int64(v), 16) }

// meshRelayTable is the table of a full mesh with bfd: true (docs/bfd.md). It is
// meshTable with one change of where frames go: a frame for a peer goes through
// TableSend, where bundle_load picks the first live path of the peer's list, the
// direct tunnel and then its relays (BFD decides, in the datapath, with no pass
// of ovsmesh), and TablePath sends it on that path. On a relay's tunnel it
// carries the mark "relay to D" in the tunnel key. The relay checks it as any
// frame from the sender (IPv4 and ARP sources, MAC), then sends it to D marked
// "relayed from S", and D takes it as a frame from S's own tunnel: the same
// checks, and local delivery only. No host relays a frame marked "relayed from",
// so a frame crosses at most two tunnels, and each host gets one copy of a
// broadcast: every sender's flood sends exactly one copy per peer, on one path.
func meshRelayTable(slice netip.Prefix, gw netip.Addr, tunnels []Tunnel, policy PathPolicy) []Flow {
	flows := make([]Flow, 0, 19*len(tunnels)+48) // see TestRelayTable
	sends := make([]string, 0, 2*len(tunnels))
	for _, t := range tunnels {
		sends = append(sends, "load:"+hexValue(t.OFPort)+"->"+regDest, Resubmit(TableSend))
	}
	flows = relayAccepts(flows, tunnels)
	flows = meshFlows(flows, slice, gw, tunnels, sends, 2, macsRelay)
	flows = relayForwards(flows, tunnels)
	flows = relayPaths(flows, tunnels, policy)
	// Keep the documented order: by table, then by decreasing priority.
	slices.SortStableFunc(flows, func(a, b Flow) int {
		return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(b.Priority, a.Priority))
	})
	return flows
}

// macsRelay is the mesh's MAC table, whose unicast lookup sends to the learned
// port's peer through TableSend instead of straight out of that port.
var macsRelay = func() macActions {
	m := macsMesh
	m.lookupDst = append(slices.Clone(m.lookupDst[:len(m.lookupDst)-1]),
		"move:NXM_NX_REG4[0..15]->NXM_NX_REG6[0..15]", Resubmit(TableSend))
	return m
}()

// relayAccepts is table 0's first flows: a frame marked "relayed from S" is
// taken only from S's relays, and then as if it had come through S's tunnel,
// so that every check of a frame from S applies to it. Another such mark goes
// nowhere.
func relayAccepts(flows []Flow, tunnels []Tunnel) []Flow {
	port := tunnelPorts(tunnels)
	for _, t := range tunnels {
		asFromPeer := []string{"load:" + hexValue(t.OFPort) + "->NXM_OF_IN_PORT[]", "load:0->" + tunID, ActionReclassify}
		mark := hexValue(markRelayedFrom | t.PeerIndex)
		for _, r := range t.Relays.Names() {
			flows = append(flows, Flow{Table: TableClassify, Priority: 130, InPort: port[r], TunID: mark, Actions: asFromPeer})
		}
	}
	return append(flows, Flow{Table: TableClassify, Priority: 125, TunID: anyRelayedFrom, Actions: drop})
}

// relayForwards is table 2's relaying: a frame from S marked "relay to D",
// checked as S's, goes on to D marked "relayed from S" (S is the low bits of
// the tunnel port it came in on), on the direct tunnel only.
func relayForwards(flows []Flow, tunnels []Tunnel) []Flow {
	from := []string{"load:" + hexValue(markRelayedFrom) + "->" + tunID, "move:NXM_OF_IN_PORT[0..14]->NXM_NX_TUN_ID[0..14]"}
	for _, t := range tunnels {
		flows = append(flows, Flow{Table: TableFromTunnel, Priority: 100, TunID: hexValue(markRelayTo | t.PeerIndex),
			Actions: append(slices.Clip(from), Output(t.OFPort))})
	}
	return append(flows, Flow{Table: TableFromTunnel, Priority: 90, TunID: anyRelayTo, Actions: drop})
}

// relayPaths is TableSend and TablePath: pick the peer's first live path and
// send on it. With no live path at all (BFD down everywhere, or not up yet) the
// frame goes on the direct tunnel, as it would without BFD.
func relayPaths(flows []Flow, tunnels []Tunnel, policy PathPolicy) []Flow {
	port := tunnelPorts(tunnels)
	direct := func(p string) []string { return []string{"load:0->" + tunID, "output:" + p} }
	for _, t := range tunnels {
		dest := regValue(t.OFPort)
		relays := t.Relays.Names()
		if len(relays) == 0 || policy.DirectOnly(t.Name) {
			flows = append(flows, Flow{Table: TableSend, Priority: 100, Reg6: dest, Actions: direct(strconv.Itoa(t.OFPort))})
			continue
		}
		members := "members:" + strconv.Itoa(t.OFPort)
		for _, r := range relays {
			members += "," + strconv.Itoa(port[r])
		}
		if policy.RelayFirst[t.Name] {
			members = "members:"
			for _, r := range relays {
				members += strconv.Itoa(port[r]) + ","
			}
			members += strconv.Itoa(t.OFPort)
		}
		flows = append(flows,
			Flow{Table: TableSend, Priority: 100, Reg6: dest, Actions: []string{
				"bundle_load(eth_src,0,active_backup,ofport," + regVia + "," + members + ")", Resubmit(TablePath)}},
			Flow{Table: TablePath, Priority: 100, Reg6: dest, Reg7: dest, Actions: direct(strconv.Itoa(t.OFPort))})
	}
	return append(flows,
		Flow{Table: TablePath, Priority: 90, Reg7: regValue(noMember), Actions: direct("NXM_NX_REG6[0..15]")},
		Flow{Table: TablePath, Priority: 1, Actions: []string{
			"load:" + hexValue(markRelayTo) + "->" + tunID, "move:NXM_NX_REG6[0..14]->NXM_NX_TUN_ID[0..14]", "output:" + regVia}})
}

// BFDSession is what ovs-vswitchd reports of one tunnel's BFD session: observed
// state, which a pass turns into its PathPolicy.
type BFDSession struct {
	// SeenUp: the session is up or has been (bfd_status state up, or a flap
	// count above 0).
	SeenUp bool
	// Flaps is bfd_status:flap_count: changes of its forwarding state since
	// ovs-vswitchd created the session.
	Flaps int
}

// PathPolicy tells which tunnels of a relaying mesh may fail over to a relay.
//
// TableSend's bundle_load takes a tunnel whose BFD session is not up for a dead
// path. A peer that does not run BFD (an older ovsmesh, or a host not yet
// applied during the rolling update that turns bfd on) never brings the session
// up, and its frames would always go through a relay, which that peer drops (it
// reads no relay marks): worse than without BFD. So a tunnel goes through
// TableSend's choice only once its session has been up, and straight out of its
// port until then.
//
// The zero PathPolicy is the steady state, every session up once: what `plan`
// shows. A pass sets Observed and SeenUp from ovs-vswitchd's bfd_status.
type PathPolicy struct {
	// Observed says that SeenUp was read: a tunnel it does not hold (a session
	// never up, or no port yet) sends directly.
	Observed bool
	// SeenUp holds the tunnels whose BFD session is up or has been (bfd_status
	// state up, or a flap count above 0).
	SeenUp map[string]bool
	// RelayFirst holds the tunnels whose path flaps: their relays come before
	// them in the choice, so frames stay on a relay while BFD keeps changing its
	// mind about the direct path (and take it when no relay is alive).
	RelayFirst map[string]bool
}

// DirectOnly reports whether frames for the tunnel's peer must go straight out
// of the tunnel.
func (p PathPolicy) DirectOnly(tunnel string) bool { return p.Observed && !p.SeenUp[tunnel] }

// tunnelPorts maps each tunnel's peer to the tunnel's OpenFlow port.
func tunnelPorts(tunnels []Tunnel) map[string]int {
	port := make(map[string]int, len(tunnels))
	for _, t := range tunnels {
		port[t.Peer] = t.OFPort
	}
	return port
}

// Paths of a relaying mesh, as ChoosePath names them.
const (
	PathDirect  = "direct"  // the direct tunnel is alive
	PathRelayed = "relayed" // the direct tunnel is down; a relay's tunnel is alive
	PathDown    = "down"    // no tunnel of the list is alive: frames take the direct one
)

// PathMembers returns, for each tunnel whose frames go through a relay choice,
// the tunnels TableSend's bundle_load chooses from, in its order (the direct
// tunnel first, or last while it flaps: see PathPolicy). It reads the state's
// own table, so it is what the flows do.
func (s HostState) PathMembers() map[string][]string {
	name := make(map[int]string, len(s.OVS.Tunnels))
	for _, t := range s.OVS.Tunnels {
		name[t.OFPort] = t.Name
	}
	members := map[string][]string{}
	for _, f := range s.Flows {
		if f.Table != TableSend || len(f.Actions) == 0 {
			continue
		}
		_, list, ok := strings.Cut(f.Actions[0], ",members:")
		if !ok || !strings.HasPrefix(f.Actions[0], "bundle_load(") {
			continue
		}
		dest, err := strconv.ParseInt(f.Reg6, 0, 32)
		if err != nil {
			continue
		}
		var names []string
		for p := range strings.SplitSeq(strings.TrimSuffix(list, ")"), ",") {
			n, _ := strconv.Atoi(p)
			names = append(names, name[n])
		}
		members[name[int(dest)]] = names
	}
	return members
}

// ChoosePath returns the path to tunnel's peer that TableSend's bundle_load
// takes among members (see PathMembers) when alive tells which tunnels BFD says
// forward: the first alive one. via is that tunnel when it is not the direct
// one.
func ChoosePath(tunnel string, members []string, alive func(tunnel string) bool) (path, via string) {
	for _, m := range members {
		if alive(m) {
			if m == tunnel {
				return PathDirect, ""
			}
			return PathRelayed, m
		}
	}
	return PathDown, ""
}
