package topology

import (
	"strconv"
	"strings"
)

// The flow table of a host with Docker networks (docs/flow-table.md, "Networks").
//
// Every network has its own pipeline: the very table docker0 gets in the same
// mode (mesh, relaying mesh or tree), computed from the network's slices and
// gateway addresses, moved to its own block of tables (networkBase) and to its
// own local port, the network's internal port instead of LOCAL. docker0's
// pipeline stays where it is, in tables 0 to 10. So each network has all of
// docker0's checks: source addresses per port, MAC identity with its own learned
// table and quotas, flood and split horizon, relays.
//
// All of them share the tunnels, which then carry the key in the flow
// (options:key=flow), and the key tells the networks apart across the mesh:
// docker0's frames carry docker0's key (network.key, the tree's key, or 0), a
// network's frames its own (NetworkState.TunnelKey). Table 0 dispatches first:
//
//   - priority 200: a frame from a network's internal port gets the network's
//     key and goes to its pipeline; a frame from a tunnel carrying a network's
//     key goes to that network's pipeline (in a relaying mesh, matched on the
//     network bits only: the other bits are relay marks, which the network's
//     pipeline handles as docker0's does);
//   - priority 200, when docker0's key is not 0: a frame from LOCAL gets it and
//     is classified again (so that it leaves on the tunnels with it);
//   - priority 190: any other frame whose key differs from docker0's in one bit
//     (one flow per bit; in a relaying mesh the network bits only) is dropped:
//     a frame of a network this host does not know never reaches docker0.
//
// Whatever is left is docker0's, classified by docker0's own flows below.

// networkTables is the size of a network's block of tables: docker0's pipeline
// uses tables 0 to 10.
const networkTables = 16

// networkBase is the first table of the pipeline of network j (its place in the
// file).
func networkBase(j int) int { return networkTables * (j + 1) }

// keyBits is the width of the tunnel key: 32 bits of GRE key, 24 of VXLAN VNI.
func keyBits(encap string) int {
	if encap == EncapGRE {
		return 32
	}
	return 24
}

// networkDispatch is table 0's dispatch (see above); k0 is docker0's key.
func networkDispatch(nets []NetworkState, k0 uint32, relaying bool, encap string) []Flow {
	flows := make([]Flow, 0, 2*len(nets)+34)
	for j, n := range nets {
		to := Resubmit(networkBase(j))
		tun := hexValue32(n.TunnelKey)
		if relaying {
			tun += "/" + hexValue32(networkKeyMask)
		}
		flows = append(flows,
			Flow{Table: TableClassify, Priority: 200, InPort: n.OFPort, Actions: []string{"load:" + hexValue32(n.TunnelKey) + "->" + tunID, to}},
			Flow{Table: TableClassify, Priority: 200, TunID: tun, Actions: []string{to}})
	}
	if k0 != 0 {
		flows = append(flows, Flow{Table: TableClassify, Priority: 200, InPort: PortLocal, TunID: "0",
			Actions: []string{"load:" + hexValue32(k0) + "->" + tunID, ActionReclassify}})
	}
	for b := range keyBits(encap) {
		bit := uint32(1) << b
		if relaying && bit&networkKeyMask == 0 {
			continue
		}
		flows = append(flows, Flow{Table: TableClassify, Priority: 190,
			TunID: hexValue32(^k0&bit) + "/" + hexValue32(bit), Actions: drop})
	}
	return flows
}

// hexValue32 writes a key the way ovs-ofctl prints it ("0" for zero).
func hexValue32(v uint32) string {
	if v == 0 {
		return "0"
	}
	return "0x" + strconv.FormatUint(uint64(v), 16)
}

// networkTunnels are the host's tunnels as a network sees them: each peer's
// slice and gateway address are the network's.
func networkTunnels(tunnels []Tunnel, nw NetworkSpec) []Tunnel {
	out := make([]Tunnel, len(tunnels))
	for i, tu := range tunnels {
		tu.PeerSlice, tu.PeerGW = networkSlot(nw, tu.PeerIndex)
		out[i] = tu
	}
	return out
}

// networkPipeline is network j's table: docker0's table of the same mode for
// the network's addresses, moved (see relocate).
func (t *Topology) networkPipeline(j int, me Host, n NetworkState, tunnels []Tunnel, tree []Edge, policy PathPolicy) []Flow {
	nw := t.Networks[j]
	nt := networkTunnels(tunnels, nw)
	var flows []Flow
	switch {
	case t.Relaying():
		flows = meshRelayTable(n.IPRange, n.Gateway, nt, policy)
	case t.Network.Mode == ModeTree:
		routes := t.treeRoutesWith(me.Name, tree, nt, func(i int) [2]string {
			slice, gw := networkSlot(nw, i)
			return [2]string{slice.String(), gw.String()}
		})
		flows = treeFlowTable(n.IPRange, n.Gateway, nt, routes)
	default:
		flows = meshTable(n.IPRange, n.Gateway, nt)
	}
	return relocate(flows, networkBase(j), n.OFPort, n.TunnelKey, t.Relaying())
}

// relocate moves a pipeline computed for docker0 to tables base and up, and to
// local port port (for LOCAL); in a relaying mesh it also adds the network's key
// to every key the flows set or match exactly (the relay marks and the direct
// frames' 0). It changes flows in place (a pipeline computed for the network
// alone) but never an Actions slice, which flows share: a changed one is
// replaced, once per shared slice.
func relocate(flows []Flow, base, port int, key uint32, relaying bool) []Flow {
	local := regValue(ofppLocal)
	type shared struct { // an Actions slice: its first element and length
		first *string
		n     int
	}
	moved := map[shared][]string{}
	for i := range flows {
		f := &flows[i]
		f.Table += base
		if f.InPort == PortLocal {
			f.InPort = port
		}
		if f.Reg4 == local {
			f.Reg4 = regValue(port)
		}
		if relaying && f.TunID != "" && !strings.Contains(f.TunID, "/") {
			v, _ := strconv.ParseUint(f.TunID, 0, 32)
			f.TunID = hexValue32(uint32(v) | key)
		}
		if len(f.Actions) == 0 {
			continue
		}
		sk := shared{&f.Actions[0], len(f.Actions)}
		if acts, ok := moved[sk]; ok {
			f.Actions = acts
			continue
		}
		var acts []string
		for k, a := range f.Actions {
			if r := relocateAction(a, base, port, key, relaying); r != a {
				if acts == nil {
					acts = append(make([]string, 0, len(f.Actions)), f.Actions[:k]...)
				}
				a = r
			}
			if acts != nil {
				acts = append(acts, a)
			}
		}
		if acts == nil {
			acts = f.Actions
		}
		moved[sk] = acts
		f.Actions = acts
	}
	return flows
}

// learnedLocal is the cookie of the MACs learned on LOCAL, as learn() writes it.
var learnedLocal = "cookie=0x" + strconv.FormatUint(LearnedCookie(ofppLocal), 16) + ","

// relocateAction is relocate for one action.
func relocateAction(a string, base, port int, key uint32, relaying bool) string {
	switch {
	case a == ActionLocal:
		return Output(port)
	case strings.HasPrefix(a, "resubmit(,") && strings.HasSuffix(a, ")"):
		n, err := strconv.Atoi(a[len("resubmit(,") : len(a)-1])
		if err == nil {
			return Resubmit(n + base)
		}
	case strings.HasPrefix(a, "learn(table="):
		rest := a[len("learn(table="):]
		end := strings.IndexByte(rest, ',')
		n, _ := strconv.Atoi(rest[:end])
		rest = strings.Replace(rest[end:], learnedLocal, "cookie=0x"+strconv.FormatUint(LearnedCookie(port), 16)+",", 1)
		return "learn(table=" + strconv.Itoa(n+base) + rest
	case relaying && strings.HasPrefix(a, "load:") && strings.HasSuffix(a, "->"+tunID):
		v, err := strconv.ParseUint(strings.TrimSuffix(a[len("load:"):], "->"+tunID), 0, 32)
		if err == nil {
			return "load:" + hexValue32(uint32(v)|key) + "->" + tunID
		}
	}
	return a
}

// networkTable is the whole table of a host with networks: the dispatch, then
// docker0's table, then each network's pipeline.
func (t *Topology) networkTable(docker0 []Flow, me Host, nets []NetworkState, k0 uint32, tunnels []Tunnel, tree []Edge, policy PathPolicy) []Flow {
	dispatch := networkDispatch(nets, k0, t.Relaying(), t.Network.Encap)
	pipelines := make([][]Flow, len(nets))
	n := len(dispatch) + len(docker0)
	for j, nw := range nets {
		pipelines[j] = t.networkPipeline(j, me, nw, tunnels, tree, policy)
		n += len(pipelines[j])
	}
	flows := append(append(make([]Flow, 0, n), dispatch...), docker0...)
	for _, p := range pipelines {
		flows = append(flows, p...)
	}
	return flows
}

// docker0Key is docker0's tunnel key as the flows see it: network.key in a mesh
// without relays, the tree's key in tree mode, else 0.
func docker0Key(mode string, relaying bool, key *uint32, treeKey uint32) uint32 {
	switch {
	case mode == ModeTree:
		return treeKey
	case relaying || key == nil:
		return 0
	}
	return *key
}
