package topology

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// treeTopo compiles a tree-mode topology of hosts h1..hn (index i) with links.
func treeTopo(t *testing.T, n int, links ...string) *Topology {
	t.Helper()
	var b strings.Builder
	b.WriteString("network:\n  mode: tree\n  encap: gre\n  subnet: 10.0.0.0/8\n  slice_prefix: 16\nhosts:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - {name: h%d, address: 192.0.2.%d, index: %d}\n", i, i, i)
	}
	if len(links) > 0 {
		b.WriteString("links:\n")
		for _, l := range links {
			b.WriteString("  - " + l + "\n")
		}
	}
	topo, err := Compile("tree.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	return topo
}

// TestTreeRollingUpdateNoLoop is the example: a chain 1-2-3-4 (and a
// spare link 1-4 at cost 5) where 2-3 becomes expensive. With h1 and h4 on the new
// file and h2, h3 on the old one, the tunnels both ends have form the cycle
// 1-2-3-4-1; the keys keep the two versions apart.
func TestTreeRollingUpdateNoLoop(t *testing.T) {
	old := treeTopo(t, 4, "{a: h1, b: h2, cost: 1}", "{a: h2, b: h3, cost: 1}", "{a: h3, b: h4, cost: 1}", "{a: h1, b: h4, cost: 5}")
	neu := treeTopo(t, 4, "{a: h1, b: h2, cost: 1}", "{a: h2, b: h3, cost: 10}", "{a: h3, b: h4, cost: 1}", "{a: h1, b: h4, cost: 5}")
	versions := map[string]*Topology{"h1": neu, "h2": old, "h3": old, "h4": neu}
	edges := agreedTunnels(t, versions)
	t.Logf("tunnels that carry traffic: %v", edges)
	if cyc := hasCycle(edges); cyc {
		t.Fatalf("the agreed tunnels %v form a cycle", edges)
	}
	if old.treeKey(old.Edges()) == neu.treeKey(neu.Edges()) {
		t.Errorf("old and new tree have the same key")
	}
}

// TestTreeStarKeepsItsCentreAndKey: without links the tree is a star around the
// lowest index, whatever the names; adding or removing a leaf changes neither
// the centre nor the key.
func TestTreeStarKeepsItsCentreAndKey(t *testing.T) {
	var keys []uint32
	for n := 3; n <= 6; n++ {
		topo := treeTopo(t, n)
		topo.Hosts[0].Name = "zz-first" // the centre is the lowest index, not the first name
		tree := topo.Edges()
		for _, e := range tree {
			if e.A != "zz-first" && e.B != "zz-first" {
				t.Errorf("%d hosts: edge %v does not touch the centre", n, e)
			}
		}
		keys = append(keys, topo.treeKey(tree))
	}
	for _, k := range keys[1:] {
		if k != keys[0] {
			t.Errorf("the star's key changed as leaves were added: %v", keys)
		}
	}
}

// TestTreeKeyNoLoopProperty: random candidate graphs, each host on one of up to
// three random versions of the costs; the tunnels whose two ends both want them
// with the same key never form a cycle.
func TestTreeKeyNoLoopProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 300 {
		n := 4 + rng.IntN(6)
		var pairs [][2]int
		for a := 1; a <= n; a++ {
			for b := a + 1; b <= n; b++ {
				if b == a+1 || rng.IntN(3) == 0 { // a chain keeps every version connected
					pairs = append(pairs, [2]int{a, b})
				}
			}
		}
		nv := 2 + rng.IntN(2)
		tops := make([]*Topology, nv)
		for v := range tops {
			var links []string
			for _, p := range pairs {
				links = append(links, fmt.Sprintf("{a: h%d, b: h%d, cost: %d}", p[0], p[1], 1+rng.IntN(4)))
			}
			tops[v] = treeTopo(t, n, links...)
		}
		versions := map[string]*Topology{}
		for i := 1; i <= n; i++ {
			versions[fmt.Sprintf("h%d", i)] = tops[rng.IntN(nv)]
		}
		if edges := agreedTunnels(t, versions); hasCycle(edges) {
			t.Fatalf("iteration %d: agreed tunnels %v form a cycle", iter, edges)
		}
	}
}

// agreedTunnels returns the tunnels that carry traffic when each host runs its
// own version: both ends have the tunnel, with the same key.
func agreedTunnels(t *testing.T, versions map[string]*Topology) [][2]string {
	t.Helper()
	have := map[[2]string]map[string]string{} // pair → host → key
	for host, topo := range versions {
		s, err := topo.Desired(host)
		if err != nil {
			t.Fatal(err)
		}
		for _, tu := range s.OVS.Tunnels {
			p := [2]string{min(host, tu.Peer), max(host, tu.Peer)}
			if have[p] == nil {
				have[p] = map[string]string{}
			}
			have[p][host] = tu.Key
		}
	}
	var out [][2]string
	for p, keys := range have {
		if len(keys) == 2 && keys[p[0]] == keys[p[1]] {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0]+a[1], b[0]+b[1]) })
	return out
}

func hasCycle(edges [][2]string) bool {
	id := map[string]int{}
	for _, e := range edges {
		for _, v := range e {
			if _, ok := id[v]; !ok {
				id[v] = len(id)
			}
		}
	}
	uf := newUnionFind(len(id))
	for _, e := range edges {
		if !uf.union(id[e[0]], id[e[1]]) {
			return true
		}
	}
	return false
}

// TestBehind checks the hosts reached through each neighbour of a chain's host.
func TestBehind(t *testing.T) {
	tree := []Edge{{A: "h1", B: "h2"}, {A: "h2", B: "h3"}, {A: "h3", B: "h4"}, {A: "h3", B: "h5"}}
	got := behind("h2", tree)
	for k := range got {
		slices.Sort(got[k])
	}
	if fmt.Sprint(got) != "map[h1:[h1] h3:[h3 h4 h5]]" {
		t.Errorf("behind h2: %v", got)
	}
}
