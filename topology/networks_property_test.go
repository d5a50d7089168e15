package topology

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// netTopo is a random topology (mesh, relaying mesh or tree) with 1 to 3 networks.
func netTopo(r *rand.Rand, iter int) (string, int) {
	mode := []string{ModeMesh, ModeTree, ModeMesh}[iter%3]
	g := randomTopo(r, 2+r.IntN(10), mode)
	y := g.yaml()
	if iter%3 == 2 {
		y = strings.Replace(strings.Replace(y, "  key: 9\n", "", 1), "network:\n", "network:\n  bfd: true\n", 1)
	}
	n := 1 + r.IntN(3)
	y += "networks:\n"
	for j := range n {
		y += fmt.Sprintf("  - {name: net%d-%d, subnet: 10.%d.0.0/16, key: %d}\n", j, r.IntN(1000), 100+j, 1+j*20+r.IntN(20))
	}
	return y, n
}

// tunMatch reports whether key matches a tun_id match "V" or "V/M".
func tunMatch(match string, key uint32) bool {
	v, m, masked := strings.Cut(match, "/")
	val, _ := strconv.ParseUint(v, 0, 32)
	mask := uint64(0xffffffff)
	if masked {
		mask, _ = strconv.ParseUint(m, 0, 32)
	}
	return uint64(key)&mask == val&mask
}

// dispatch returns where table 0's dispatch sends a frame from port in with tunnel
// key key: a table (a network's pipeline), -1 for a drop, 0 for docker0's flows.
func dispatch(flows []Flow, in int, key uint32) int {
	for _, prio := range []int{200, 190} {
		for _, f := range flows {
			if f.Table != TableClassify || f.Priority != prio || (f.InPort != 0 && f.InPort != in) {
				continue
			}
			if f.TunID != "" && !tunMatch(f.TunID, key) {
				continue
			}
			last := f.Actions[len(f.Actions)-1]
			switch {
			case last == ActionDrop:
				return -1
			case last == ActionReclassify:
				return 0
			}
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(last, "resubmit(,"), ")"))
			return n
		}
	}
	return 0
}

// TestNetworksKeptApart: on every host of random topologies with networks, table 0
// sends a network's frames (from its internal port, or from a tunnel with its key)
// to its own pipeline only, docker0's (from LOCAL, or with docker0's key) to
// docker0's flows, and frames with any other key nowhere (in a relaying mesh: any
// other network bits); every pipeline stays in its block of tables and never
// outputs to LOCAL or another network's port; every host agrees on the keys.
func TestNetworksKeptApart(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 21))
	for iter := range 90 {
		y, n := netTopo(r, iter)
		topo, err := Compile("gen.yaml", []byte(y))
		if err != nil {
			t.Fatalf("generated topology rejected: %v\n%s", err, y)
		}
		keys := map[string]uint32{}
		for _, h := range topo.Hosts {
			s := mustDesired(t, topo, h.Name)
			if len(s.Networks) != n {
				t.Fatalf("%s: %d networks, want %d", h.Name, len(s.Networks), n)
			}
			for _, tu := range s.OVS.Tunnels {
				if tu.Key != KeyFlow {
					t.Fatalf("%s: tunnel %s key %q, want flow", h.Name, tu.Name, tu.Key)
				}
			}
			checkDispatch(t, topo, s, r)
			checkBlocks(t, s)
			for _, nw := range s.Networks {
				if k, ok := keys[nw.Name]; ok && k != nw.TunnelKey {
					t.Fatalf("%s: network %s key %#x, another host has %#x", h.Name, nw.Name, nw.TunnelKey, k)
				}
				keys[nw.Name] = nw.TunnelKey
			}
		}
	}
}

func checkDispatch(t *testing.T, topo *Topology, s HostState, r *rand.Rand) {
	t.Helper()
	tunnel := 0
	if len(s.OVS.Tunnels) > 0 {
		tunnel = s.OVS.Tunnels[0].OFPort
	}
	relaying := topo.Relaying()
	k0 := uint32(0)
	if !relaying && topo.Network.Mode == ModeMesh {
		k0 = *topo.Network.Key // the generator sets key: 9
	}
	if topo.Network.Mode == ModeTree {
		k0 = topo.treeKey(topo.Edges())
	}
	if got := dispatch(s.Flows, PortLocal, 0); got != 0 {
		t.Fatalf("%s (%s): a frame from LOCAL goes to %d, want docker0's flows", s.Host, topo.Network.Mode, got)
	}
	if got := dispatch(s.Flows, tunnel, k0); got != 0 {
		t.Fatalf("%s: a frame with docker0's key %#x goes to %d", s.Host, k0, got)
	}
	known := map[uint32]int{k0: 0}
	for j, nw := range s.Networks {
		base := networkBase(j)
		if got := dispatch(s.Flows, nw.OFPort, 0); got != base {
			t.Fatalf("%s: a frame from %s's port goes to %d, want %d", s.Host, nw.Name, got, base)
		}
		if got := dispatch(s.Flows, tunnel, nw.TunnelKey); got != base {
			t.Fatalf("%s: a frame with %s's key %#x goes to %d, want %d", s.Host, nw.Name, nw.TunnelKey, got, base)
		}
		if _, dup := known[nw.TunnelKey]; dup {
			t.Fatalf("%s: network %s's key %#x is not its own", s.Host, nw.Name, nw.TunnelKey)
		}
		known[nw.TunnelKey] = base
		if relaying {
			mark := nw.TunnelKey | markRelayTo | uint32(s.Index)
			if got := dispatch(s.Flows, tunnel, mark); got != base {
				t.Fatalf("%s: a relay mark of %s goes to %d, want %d", s.Host, nw.Name, got, base)
			}
		}
	}
	var tries []uint32
	for b := range 24 { // docker0's key with one bit flipped
		tries = append(tries, k0^1<<b)
	}
	for range 50 {
		tries = append(tries, r.Uint32()&0xffffff)
	}
	for _, k := range tries {
		if relaying {
			k &= networkKeyMask
		}
		if _, ok := known[k]; ok {
			continue
		}
		if got := dispatch(s.Flows, tunnel, k); got != -1 {
			t.Fatalf("%s: a frame with the unknown key %#x goes to %d, want a drop", s.Host, k, got)
		}
	}
}

// checkBlocks checks that every flow of a network's pipeline stays in its block
// of tables and its own local port, and that docker0's flows never reach a
// network's.
func checkBlocks(t *testing.T, s HostState) {
	t.Helper()
	ports := map[int]int{PortLocal: -1} // local port → block (-1: docker0)
	for j, nw := range s.Networks {
		ports[nw.OFPort] = j
	}
	for _, f := range s.Flows {
		block := f.Table/networkTables - 1 // -1: docker0's tables
		if f.Table == TableClassify && f.Priority >= 190 {
			continue // the dispatch
		}
		if p, ok := ports[f.InPort]; ok && p != block {
			t.Fatalf("%s: %s matches another pipeline's local port", s.Host, f)
		}
		for _, a := range f.Actions {
			if a == ActionLocal && block != -1 {
				t.Fatalf("%s: %s outputs to docker0", s.Host, f)
			}
			if p, ok := strings.CutPrefix(a, "output:"); ok {
				n, _ := strconv.Atoi(p)
				if b, local := ports[n]; local && b != block {
					t.Fatalf("%s: %s outputs to another pipeline's port", s.Host, f)
				}
			}
			for _, pre := range []string{"resubmit(,", "learn(table="} {
				if rest, ok := strings.CutPrefix(a, pre); ok {
					n, _ := strconv.Atoi(strings.FieldsFunc(rest, func(c rune) bool { return c == ',' || c == ')' })[0])
					if n/networkTables-1 != block {
						t.Fatalf("%s: %s leaves its block of tables", s.Host, f)
					}
				}
			}
		}
	}
}

// TestNetworkSlicesDisjoint: every host's IP range of a network lies in the
// network's subnet, ranges never overlap, and gateways are in slice 0.
func TestNetworkSlicesDisjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 29))
	for iter := range 60 {
		y, _ := netTopo(r, iter)
		topo, err := Compile("gen.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string][]netip.Prefix{}
		for _, h := range topo.Hosts {
			for _, nw := range mustDesired(t, topo, h.Name).Networks {
				slice0 := netip.PrefixFrom(nw.Subnet.Addr(), nw.IPRange.Bits())
				if !nw.Subnet.Contains(nw.IPRange.Addr()) || !slice0.Contains(nw.Gateway) || slice0.Overlaps(nw.IPRange) {
					t.Fatalf("%s: network %s range %s gateway %s in subnet %s", h.Name, nw.Name, nw.IPRange, nw.Gateway, nw.Subnet)
				}
				for _, o := range seen[nw.Name] {
					if o.Overlaps(nw.IPRange) {
						t.Fatalf("%s: %s's range %s overlaps %s", h.Name, nw.Name, nw.IPRange, o)
					}
				}
				seen[nw.Name] = append(seen[nw.Name], nw.IPRange)
			}
		}
	}
}
