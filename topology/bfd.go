package topology

// BFD timers and the relays of a mesh with bfd: true (docs/bfd.md).

// Ranges of the BFD timers the topology file accepts.
const (
	MinBFDInterval = 10    // ms; OVS accepts 1, but below 10 ms a loaded host flaps
	MaxBFDInterval = 10000 // ms
	MaxBFDMult     = 255   // bfd:mult is one byte on the wire (RFC 5880)
)

// MaxRelayHosts is the largest mesh with bfd: true. Its flood flow holds two
// actions per peer (choose the path, then send), 32 bytes, and OpenFlow caps one
// flow's actions near 64 KiB.
const MaxRelayHosts = 1000

// DefaultBFDInterval is bfd_interval_ms when the file leaves it out: 100 ms up to
// 100 hosts (a dead path is seen after 3 missed packets, about 0.3 s), then 1 ms
// per host, so that each host sends and receives about 1000 BFD packets a second
// however large the mesh (docs/bfd.md has the measured cost).
func DefaultBFDInterval(hosts int) int { return max(100, hosts) }

// Relaying reports whether the tunnels of this topology carry relay marks: a
// full mesh with BFD, where a host reaches a peer through a third one while the
// direct tunnel is down.
func (t *Topology) Relaying() bool { return t.Network.Mode == ModeMesh && t.Network.BFD }

// KeyFlow is options:key of a relaying mesh's tunnels: the flows set the key of
// every packet (0 for a direct frame, a relay mark otherwise) and match it on
// receipt.
const KeyFlow = "flow"

// Relay marks: the tunnel key of a frame on its way through a relay. The low 15
// bits hold a host index (MaxIndex < 2^15); both fit a 24-bit VXLAN VNI.
const (
	markRelayTo     = 0x800000 // "relay this to host i": set only by the frame's sender
	markRelayedFrom = 0x400000 // "relayed from host i": set only by a relay, delivered locally only
)

// relaysPerPair is how many relays a pair of hosts has: the second serves when
// the tunnel to the first is down too. (relaysFor keeps exactly two.)
const relaysPerPair = 2

// relaysFor returns the indexes of the hosts that relay between the hosts of
// indexes a and b, best first: the relaysPerPair hosts of highest rendezvous
// weight for the pair (both ends compute the same list, whichever is a). Each
// pair has its own relays, spread evenly over the other hosts, and a host
// joining or leaving changes only the pairs it enters or leaves the top of.
// indexes are every host's index.
func relaysFor(a, b int, indexes []int) (relays [relaysPerPair]int, n int) {
	if a > b {
		a, b = b, a
	}
	pair := uint64(a)<<32 | uint64(b)
	var best [relaysPerPair]int
	var weight [relaysPerPair]uint64
	better := func(w uint64, c, i int) bool { return w > weight[i] || w == weight[i] && c < best[i] }
	for _, c := range indexes {
		if c == a || c == b {
			continue
		}
		w := mix(pair ^ uint64(c)*0x9e3779b97f4a7c15)
		switch {
		case n == 0 || better(w, c, 0):
			best[1], weight[1] = best[0], weight[0]
			best[0], weight[0] = c, w
		case n == 1 || better(w, c, 1):
			best[1], weight[1] = c, w
		}
		n++
	}
	return best, min(n, relaysPerPair)
}

// setRelays fills in the relays of each of host me's tunnels (see relaysFor).
func (t *Topology) setRelays(me Host, tunnels []Tunnel) {
	indexes := make([]int, len(t.Hosts))
	names := make(map[int]string, len(t.Hosts))
	for i, h := range t.Hosts {
		indexes[i], names[h.Index] = h.Index, h.Name
	}
	for i := range tunnels {
		relays, n := relaysFor(me.Index, tunnels[i].PeerIndex, indexes)
		for j, r := range relays[:n] {
			tunnels[i].Relays[j] = names[r]
		}
	}
}

// mix is SplitMix64's finalizer: a fast, well-spread hash of one integer.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// bfd checks the BFD keys of the network.
func (c *checker) bfd() {
	n := c.t.Network
	if !n.BFD {
		return
	}
	if n.BFDIntervalMS < MinBFDInterval || n.BFDIntervalMS > MaxBFDInterval {
		c.at("network.bfd_interval_ms", "%d is out of range (%d to %d milliseconds)", n.BFDIntervalMS, MinBFDInterval, MaxBFDInterval)
	}
	if n.BFDMult < 1 || n.BFDMult > MaxBFDMult {
		c.at("network.bfd_mult", "%d is out of range (1 to %d packets)", n.BFDMult, MaxBFDMult)
	}
	if !c.t.Relaying() {
		return
	}
	if n.Key != nil {
		c.at("network.key", "cannot be used with bfd: true in mode mesh: the relays mark frames in the tunnel key; remove key, or set bfd: false")
	}
	if len(c.t.Hosts) > MaxRelayHosts {
		c.atItem("hosts", 0, "", "%d hosts: a mesh with bfd: true takes at most %d (its flood flow grows by two actions per host, and OpenFlow caps a flow's actions at 64 KiB); set bfd: false, or use mode tree",
			len(c.t.Hosts), MaxRelayHosts)
	}
}
