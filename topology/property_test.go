package topology

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

type genHost struct {
	name  string
	addr  string
	index int
}

type genTopo struct {
	encap, mode string
	hosts       []genHost
	links       []Link
}

func (g genTopo) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "network:\n  encap: %s\n  mode: %s\n  subnet: 10.64.0.0/12\n  slice_prefix: 20\n  key: 9\nhosts:\n", g.encap, g.mode)
	for _, h := range g.hosts {
		fmt.Fprintf(&b, "  - {name: %s, address: %s, index: %d}\n", h.name, h.addr, h.index)
	}
	if g.links != nil {
		b.WriteString("links:\n")
		for _, l := range g.links {
			fmt.Fprintf(&b, "  - {a: %s, b: %s, cost: %d}\n", l.A, l.B, l.Cost)
		}
	}
	return b.String()
}

// randomTopo returns n hosts with random (long or short) names, unique addresses
// and unique indexes, and, for stp/tree, a random connected candidate set.
func randomTopo(r *rand.Rand, n int, mode string) genTopo {
	g := genTopo{encap: []string{EncapGRE, EncapVXLAN}[r.IntN(2)], mode: mode}
	perm := r.Perm(250)
	for i := range n {
		name := fmt.Sprintf("h%d", perm[i])
		if r.IntN(3) == 0 {
			name = fmt.Sprintf("rack%d-very-long-hostname-%d", r.IntN(9), perm[i])
		}
		g.hosts = append(g.hosts, genHost{name: name, addr: fmt.Sprintf("192.0.2.%d", perm[i]+1), index: perm[i] + 1})
	}
	if mode != ModeMesh && r.IntN(4) > 0 {
		g.links = []Link{}
		seen := map[[2]int]bool{}
		add := func(a, b int) {
			if a == b || seen[[2]int{min(a, b), max(a, b)}] {
				return
			}
			seen[[2]int{min(a, b), max(a, b)}] = true
			g.links = append(g.links, Link{A: g.hosts[a].name, B: g.hosts[b].name, Cost: 1 + r.IntN(5)})
		}
		for i := 1; i < n; i++ { // a random spanning path keeps it connected
			add(i, r.IntN(i))
		}
		for range r.IntN(2 * n) {
			add(r.IntN(n), r.IntN(n))
		}
	}
	return g
}

func mustCompile(t *testing.T, g genTopo) *Topology {
	t.Helper()
	topo, err := Compile("gen.yaml", []byte(g.yaml()))
	if err != nil {
		t.Fatalf("generated topology rejected: %v\n%s", err, g.yaml())
	}
	return topo
}

func mustDesired(t *testing.T, topo *Topology, name string) HostState {
	t.Helper()
	s, err := topo.Desired(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAddRemoveHostKeepsOthers: adding or removing a host never changes another
// host's fixed-cidr, docker0 address or the names of its remaining tunnels.
func TestAddRemoveHostKeepsOthers(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 200 {
		mode := []string{ModeMesh, ModeSTP}[iter%2]
		g := randomTopo(r, 3+r.IntN(10), mode)
		g.links = nil
		before := mustCompile(t, g)
		smaller := g
		drop := r.IntN(len(g.hosts))
		smaller.hosts = append(append([]genHost{}, g.hosts[:drop]...), g.hosts[drop+1:]...)
		after := mustCompile(t, smaller)
		for _, h := range smaller.hosts {
			a, b := mustDesired(t, before, h.name), mustDesired(t, after, h.name)
			if a.Docker.FixedCIDR != b.Docker.FixedCIDR || a.Docker.Address != b.Docker.Address {
				t.Fatalf("removing %s changed %s: %v %v -> %v %v", g.hosts[drop].name, h.name, a.Docker.FixedCIDR, a.Docker.Address, b.Docker.FixedCIDR, b.Docker.Address)
			}
			names := map[string]string{}
			for _, tu := range a.OVS.Tunnels {
				names[tu.Peer] = tu.Name
			}
			for _, tu := range b.OVS.Tunnels {
				if names[tu.Peer] != tu.Name {
					t.Fatalf("removing a host renamed %s's tunnel to %s: %q -> %q", h.name, tu.Peer, names[tu.Peer], tu.Name)
				}
			}
			if len(b.OVS.Tunnels) != len(a.OVS.Tunnels)-1 {
				t.Fatalf("%s: %d tunnels before, %d after removing one host of a full mesh", h.name, len(a.OVS.Tunnels), len(b.OVS.Tunnels))
			}
		}
	}
}

// TestSlicesDisjoint: every host's slice lies inside the subnet, slices and docker0
// addresses never overlap, and docker0 addresses are in slice 0.
func TestSlicesDisjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		topo := mustCompile(t, randomTopo(r, 2+r.IntN(20), ModeMesh))
		slice0 := topo.Slice(0)
		var seen []netip.Prefix
		for _, h := range topo.Hosts {
			s := mustDesired(t, topo, h.Name)
			fc, gw := s.Docker.FixedCIDR, s.Docker.Address
			if !topo.Network.Subnet.Contains(fc.Addr()) || fc.Bits() != topo.Network.SlicePrefix {
				t.Fatalf("%s: slice %s not a /%d of %s", h.Name, fc, topo.Network.SlicePrefix, topo.Network.Subnet)
			}
			if !slice0.Contains(gw.Addr()) || gw.Bits() != topo.Network.Subnet.Bits() {
				t.Fatalf("%s: docker0 address %s not in slice 0 %s with the subnet's prefix", h.Name, gw, slice0)
			}
			for _, o := range seen {
				if o.Overlaps(fc) {
					t.Fatalf("%s: slice %s overlaps %s", h.Name, fc, o)
				}
			}
			seen = append(seen, fc)
		}
	}
}

// TestTunnelsSymmetric: A has a tunnel to B iff B has one to A, in every mode, and
// the two ends agree on addresses.
func TestTunnelsSymmetric(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for iter := range 150 {
		topo := mustCompile(t, randomTopo(r, 2+r.IntN(12), []string{ModeMesh, ModeSTP, ModeTree}[iter%3]))
		addr := map[string]netip.Addr{}
		for _, h := range topo.Hosts {
			addr[h.Name] = h.Address
		}
		has := map[[2]string]bool{}
		for _, h := range topo.Hosts {
			for _, tu := range mustDesired(t, topo, h.Name).OVS.Tunnels {
				if tu.RemoteIP != addr[tu.Peer] {
					t.Fatalf("%s -> %s: remote_ip %s, want %s", h.Name, tu.Peer, tu.RemoteIP, addr[tu.Peer])
				}
				has[[2]string{h.Name, tu.Peer}] = true
			}
		}
		for k := range has {
			if !has[[2]string{k[1], k[0]}] {
				t.Fatalf("%s has a tunnel to %s but not the other way (mode %s)", k[0], k[1], topo.Network.Mode)
			}
		}
	}
}

// TestTreeSpans: tree mode gives exactly N-1 edges connecting every host, of
// minimum total cost, and the same tree whatever the order of hosts and links in
// the file (so every host computes the same one).
func TestTreeSpans(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 150 {
		g := randomTopo(r, 2+r.IntN(15), ModeTree)
		topo := mustCompile(t, g)
		edges := topo.Edges()
		if len(edges) != len(g.hosts)-1 {
			t.Fatalf("%d edges for %d hosts", len(edges), len(g.hosts))
		}
		if comps := topo.components(edges); len(comps) != 1 {
			t.Fatalf("tree not connected: %v", comps)
		}
		shuffled := g
		shuffled.hosts = append([]genHost{}, g.hosts...)
		r.Shuffle(len(shuffled.hosts), func(i, j int) { shuffled.hosts[i], shuffled.hosts[j] = shuffled.hosts[j], shuffled.hosts[i] })
		if g.links != nil {
			shuffled.links = append([]Link{}, g.links...)
			r.Shuffle(len(shuffled.links), func(i, j int) { shuffled.links[i], shuffled.links[j] = shuffled.links[j], shuffled.links[i] })
			for i := range shuffled.links {
				if r.IntN(2) == 0 {
					shuffled.links[i].A, shuffled.links[i].B = shuffled.links[i].B, shuffled.links[i].A
				}
			}
		}
		if other := mustCompile(t, shuffled).Edges(); fmt.Sprint(other) != fmt.Sprint(edges) {
			t.Fatalf("tree depends on file order:\n%v\n%v", edges, other)
		}
		if g.links != nil {
			if got, want := cost(edges), bruteMinCost(topo); got != want {
				t.Fatalf("tree cost %d, minimum is %d", got, want)
			}
		}
	}
}

func cost(es []Edge) int {
	s := 0
	for _, e := range es {
		s += e.Cost
	}
	return s
}

// bruteMinCost is Prim's algorithm, independent of the Kruskal under test.
func bruteMinCost(topo *Topology) int {
	in := map[string]bool{topo.Hosts[0].Name: true}
	total := 0
	cand := topo.linkEdges()
	for len(in) < len(topo.Hosts) {
		best := -1
		for i, e := range cand {
			if in[e.A] != in[e.B] && (best < 0 || e.Cost < cand[best].Cost) {
				best = i
			}
		}
		in[cand[best].A], in[cand[best].B] = true, true
		total += cand[best].Cost
	}
	return total
}

// TestPortNames: names that fit are the prefix and the peer's name; longer ones
// end in "+" and the peer's index.
func TestPortNames(t *testing.T) {
	for _, c := range []struct {
		encap, peer string
		index       int
		want        string
	}{
		{EncapGRE, "docker2", 2, "gre-docker2"},
		{EncapGRE, "abcdefghijk", 3, "gre-abcdefghijk"},
		{EncapVXLAN, "abcdefghijkl", 3, "vx-abcdefghijkl"},
		{EncapGRE, "abcdefghijkl", 3, "gre-abcdefghi+3"},
		// Two pairs of names whose hashed names (the former scheme) collided:
		// gre-ip-10-3cd44 and vx-ip-10--0b472.
		{EncapGRE, "ip-10-0-5-40", 7, "gre-ip-10-0-5+7"},
		{EncapGRE, "ip-10-0-10-217", 12, "gre-ip-10-0+12"},
		{EncapVXLAN, "ip-10-0-5-154", 40, "vx-ip-10-0-5+40"},
		{EncapVXLAN, "ip-10-0-11-135", 32511, "vx-ip-10+32511"},
	} {
		if got := PortName(c.encap, c.peer, c.index); got != c.want {
			t.Errorf("PortName(%s, %q, %d) = %q, want %q", c.encap, c.peer, c.index, got, c.want)
		}
	}
}

// TestPortNamesNeverCollide: in 200 fleets of 1000 hosts, half with cloud
// names (ip-10-0-X-Y: about 35% of such fleets collided under the former
// hashed names) and half with random names of the allowed characters
// and lengths, every tunnel port name fits in 15 bytes and names one host only.
func TestPortNamesNeverCollide(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 5))
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
	for fleet := range 200 {
		names := map[string]bool{}
		for len(names) < 1000 {
			if fleet%2 == 0 {
				names[fmt.Sprintf("ip-10-0-%d-%d", rng.IntN(256), rng.IntN(256))] = true
				continue
			}
			b := []byte{chars[rng.IntN(62)]}
			for range rng.IntN(63) {
				b = append(b, chars[rng.IntN(len(chars))])
			}
			names[string(b)] = true
		}
		indexes := rng.Perm(MaxIndex)
		i := 0
		for _, encap := range []string{EncapGRE, EncapVXLAN} {
			seen := map[string]string{}
			for name := range names {
				p := PortName(encap, name, indexes[i%1000]+1)
				i++
				if len(p) > maxIfName {
					t.Fatalf("%q: %q is longer than 15 bytes", name, p)
				}
				if o, dup := seen[p]; dup {
					t.Fatalf("fleet %d: %q and %q both get %q", fleet, o, name, p)
				}
				seen[p] = name
			}
		}
	}
}
