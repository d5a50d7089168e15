package topology

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
)

// star returns the tree of a candidate set of every pair at equal cost: every
// host joined to the host of the lowest index, sorted by (A, B).
func (t *Topology) star() []Edge {
	if len(t.Hosts) < 2 {
		return nil
	}
	centre := slices.MinFunc(t.Hosts, func(a, b Host) int { return cmp.Compare(a.Index, b.Index) }).Name
	tree := make([]Edge, 0, len(t.Hosts)-1)
	for _, h := range t.Hosts {
		if h.Name == centre {
			continue
		}
		a, b := centre, h.Name
		if b < a {
			a, b = b, a
		}
		tree = append(tree, Edge{A: a, B: b, Cost: DefaultLinkCost})
	}
	slices.SortFunc(tree, func(x, y Edge) int { return cmp.Or(cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B)) })
	return tree
}

// treeKey is the tunnel key (GRE key, VXLAN VNI) of every tunnel in tree mode: a
// 24-bit digest of the tree's inner part, the hosts with two or more tree edges
// and the edges between them (and of network.key, if set).
//
// Why: while a change of the tree rolls across the hosts, a tunnel only carries
// traffic when both its ends have it, and the tunnels the old and the new tree
// agree on can form a cycle (a chain 1-2-3-4 re-treed to 2-1-4-3: the old hosts
// keep 2-3, the new ones add 1-4). Hosts whose keys differ cannot talk at all.
// Hosts whose keys match have the same inner tree; every other host is a leaf of
// degree one in its own tree, so it adds at most one tunnel whichever version its
// neighbour runs, and a leaf cannot close a cycle. So the tunnels that carry
// traffic never form a loop, however many versions of the file are in force.
// Adding or removing a leaf (a host of a star, whose centre stays) changes no
// key, so it disturbs nobody.
func (t *Topology) treeKey(tree []Edge) uint32 {
	degree := map[string]int{}
	for _, e := range tree {
		degree[e.A]++
		degree[e.B]++
	}
	index := make(map[string]int, len(t.Hosts))
	for _, h := range t.Hosts {
		index[h.Name] = h.Index
	}
	var inner []string
	for name, d := range degree {
		if d >= 2 {
			inner = append(inner, name+"#"+strconv.Itoa(index[name]))
		}
	}
	slices.Sort(inner)
	var b strings.Builder
	b.WriteString("ovsmesh tree\n")
	if k := t.Network.Key; k != nil {
		b.WriteString("key " + strconv.FormatUint(uint64(*k), 10) + "\n")
	}
	for _, v := range inner {
		b.WriteString("host " + v + "\n")
	}
	for _, e := range tree { // sorted by (A, B)
		if degree[e.A] >= 2 && degree[e.B] >= 2 {
			b.WriteString("edge " + e.A + " " + e.B + "\n")
		}
	}
	sum := sha256.Sum256([]byte(b.String()))
	return binary.BigEndian.Uint32(sum[:4]) >> 8 // a VXLAN VNI has 24 bits
}

// behind returns, for each tree neighbour of host me, the hosts reached through
// it: the hosts of the neighbour's side of the tree cut at their edge.
func behind(me string, tree []Edge) map[string][]string {
	adj := map[string][]string{}
	for _, e := range tree {
		adj[e.A] = append(adj[e.A], e.B)
		adj[e.B] = append(adj[e.B], e.A)
	}
	out := make(map[string][]string, len(adj[me]))
	for _, n := range adj[me] {
		seen := map[string]bool{me: true, n: true}
		queue := []string{n}
		for len(queue) > 0 {
			v := queue[0]
			queue = queue[1:]
			out[n] = append(out[n], v)
			for _, w := range adj[v] {
				if !seen[w] {
					seen[w] = true
					queue = append(queue, w)
				}
			}
		}
	}
	return out
}

// treeRoutes returns every other host of the tree with the tunnel of host me
// toward it, ordered by index.
func (t *Topology) treeRoutes(me string, tree []Edge, tunnels []Tunnel) []treeRoute {
	return t.treeRoutesWith(me, tree, tunnels, func(i int) [2]string {
		return [2]string{t.Slice(i).String(), t.Gateway(i).Addr().String()}
	})
}

// treeRoutesWith is treeRoutes with the addresses of host index i given by addrs.
func (t *Topology) treeRoutesWith(me string, tree []Edge, tunnels []Tunnel, addrs func(i int) [2]string) []treeRoute {
	byName := make(map[string]Host, len(t.Hosts))
	for _, h := range t.Hosts {
		byName[h.Name] = h
	}
	port := make(map[string]int, len(tunnels))
	for _, tu := range tunnels {
		port[tu.Peer] = tu.OFPort
	}
	var routes []treeRoute
	var idx []int
	for neighbour, hosts := range behind(me, tree) {
		p := port[neighbour]
		out := []string{Output(p)}
		for _, name := range hosts {
			h := byName[name]
			routes = append(routes, treeRoute{addrs: addrs(h.Index), port: p, out: out})
			idx = append(idx, h.Index)
		}
	}
	order := make([]int, len(routes))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(idx[a], idx[b]) })
	sorted := make([]treeRoute, len(routes))
	for i, o := range order {
		sorted[i] = routes[o]
	}
	return sorted
}
