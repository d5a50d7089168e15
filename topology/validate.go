package topology

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// given reports whether the file set the top-level or network field at path.
func (t *Topology) given(path string) bool {
	_, ok := t.pos[path]
	return ok
}

// itemPos returns where item i of list ("hosts" or "links") and its keys are, and
// the list's keys in the order of itemPos.keys. The positions are zero if the
// topology did not come from a file.
func (t *Topology) itemPos(list string, i int) (itemPos, []string) {
	items, keys := t.hostPos, hostKeys
	if list == "links" {
		items, keys = t.linkPos, linkKeys
	}
	if i >= len(items) {
		return itemPos{}, keys
	}
	return items[i], keys
}

// itemGiven reports whether the file set key of item i of list.
func (t *Topology) itemGiven(list string, i int, key string) bool {
	at, keys := t.itemPos(list, i)
	return at.keys[slices.Index(keys, key)] != (Pos{})
}

// Default fills in every value the file left out, in one visible step: the values
// are the Default* constants, slice_prefix defaults to the subnet's prefix plus 8
// (at most 30), mtu to the largest that fits the underlay, a link's cost to 1.
func (t *Topology) Default() {
	n := &t.Network
	orDefault := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	orDefault(&n.Bridge, DefaultBridge)
	orDefault(&n.Encap, DefaultEncap)
	orDefault(&n.Mode, DefaultMode)
	orDefault(&n.Datapath, DefaultDatapath)
	orDefault(&n.DockerBridge, DefaultDockerBridge)
	if !t.given("network.underlay_mtu") {
		n.UnderlayMTU = DefaultUnderlayMTU
	}
	if !t.given("network.vxlan_port") {
		n.VXLANPort = DefaultVXLANPort
	}
	if !t.given("network.subnet") {
		n.Subnet = netip.MustParsePrefix(DefaultSubnet)
	}
	if !t.given("network.slice_prefix") && n.Subnet.IsValid() {
		n.SlicePrefix = min(n.Subnet.Bits()+DefaultSliceBits, 30)
	}
	if !t.given("network.mtu") {
		n.MTU = t.MaxMTU()
	}
	if n.BFD && !t.given("network.bfd_interval_ms") {
		n.BFDIntervalMS = DefaultBFDInterval(len(t.Hosts))
	}
	if n.BFD && !t.given("network.bfd_mult") {
		n.BFDMult = DefaultBFDMult
	}
	for i := range t.Links {
		if !t.itemGiven("links", i, "cost") {
			t.Links[i].Cost = DefaultLinkCost
		}
	}
	t.defaultNetworks()
}

// checker collects problems at the positions the parser recorded.
type checker struct {
	t        *Topology
	problems []error
	subnetOK bool // network.subnet is a usable container subnet
}

// at reports a problem with the field at path unless decoding already failed there.
func (c *checker) at(path, format string, args ...any) {
	if c.t.bad[path] {
		return
	}
	pos, ok := c.t.pos[path]
	for p := path; !ok && p != ""; {
		// A defaulted field has no position: point at its parent.
		if i := strings.LastIndexAny(p, ".["); i >= 0 {
			p = p[:i]
		} else {
			p = ""
		}
		pos, ok = c.t.pos[p]
	}
	c.add(pos, path, format, args...)
}

// add records a problem at pos with the field at path.
func (c *checker) add(pos Pos, path, format string, args ...any) {
	c.problems = append(c.problems, &Problem{File: c.t.File, Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// atItem is at for key of item i of list ("hosts" or "links"), or for the item
// itself if key is "". It builds the field path only when there is a problem.
func (c *checker) atItem(list string, i int, key, format string, args ...any) {
	path := list + "[" + itoa(i) + "]"
	if key != "" {
		path += "." + key
	}
	if c.t.bad[path] {
		return
	}
	// A defaulted or missing key has no position: point at its item, else its list.
	at, keys := c.t.itemPos(list, i)
	pos := at.item
	if k := slices.Index(keys, key); k >= 0 && at.keys[k] != (Pos{}) {
		pos = at.keys[k]
	} else if pos == (Pos{}) {
		pos = c.t.pos[list]
	}
	c.add(pos, path, format, args...)
}

// isName reports whether s matches ^[A-Za-z0-9][A-Za-z0-9_.-]*$, the names of hosts
// and interfaces. A loop rather than a regexp: it runs for every host.
func isName(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return s != ""
}

// Validate checks a defaulted topology without changing it and returns every
// problem found (see Problems), each naming its field and the accepted values.
func (t *Topology) Validate() error {
	c := &checker{t: t}
	c.network()
	c.hosts()
	c.links()
	c.stpPorts()
	c.networks()
	return errors.Join(c.problems...)
}

func (c *checker) oneOf(path, v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	c.at(path, "%q is not one of %s", v, strings.Join(allowed, ", "))
	return false
}

func (c *checker) ifName(path, v string) {
	switch {
	case strings.Contains(v, "."):
		// ifupdown reads NAME.N as VLAN N on NAME and would build a VLAN device.
		c.at(path, "%q contains '.', which ifupdown reads as a VLAN interface", v)
	case len(v) > maxIfName:
		c.at(path, "%q is longer than %d bytes, the limit for a Linux interface name", v, maxIfName)
	case !isName(v):
		c.at(path, "%q is not a valid interface name (letters, digits, '-', '_', '.')", v)
	}
}

func (c *checker) network() {
	n := c.t.Network
	c.ifName("network.bridge", n.Bridge)
	c.ifName("network.docker_bridge", n.DockerBridge)
	if n.Bridge == n.DockerBridge {
		c.at("network.docker_bridge", "%q is also the OVS bridge's name: they must differ", n.DockerBridge)
	}
	encapOK := c.oneOf("network.encap", n.Encap, EncapGRE, EncapVXLAN)
	c.oneOf("network.mode", n.Mode, ModeMesh, ModeSTP, ModeTree)
	c.oneOf("network.datapath", n.Datapath, DatapathSystem, DatapathNetdev)
	if n.VXLANPort < 1 || n.VXLANPort > 65535 {
		c.at("network.vxlan_port", "%d is not a UDP port (1 to 65535)", n.VXLANPort)
	}
	if n.Key != nil && n.Encap == EncapVXLAN && *n.Key > 1<<24-1 {
		c.at("network.key", "%d is not a VXLAN VNI (0 to 16777215)", *n.Key)
	}
	mtuOK := true
	if n.UnderlayMTU < 576 || n.UnderlayMTU > 65535 {
		c.at("network.underlay_mtu", "%d is out of range (576 to 65535)", n.UnderlayMTU)
		mtuOK = false
	}
	if max := c.t.MaxMTU(); mtuOK && encapOK && n.MTU > max {
		c.at("network.mtu", "%d is larger than %d, the most that fits a %d-byte underlay with %s (%d bytes of overhead)",
			n.MTU, max, n.UnderlayMTU, n.Encap, c.t.Overhead())
	} else if n.MTU < 68 && mtuOK {
		c.at("network.mtu", "%d is smaller than 68, the minimum IPv4 MTU", n.MTU)
	}
	c.bfd()
	c.subnet()
}

func (c *checker) subnet() {
	n := c.t.Network
	s := n.Subnet
	switch {
	case !s.IsValid():
		return // reported by the parser
	case !s.Addr().Is4():
		c.at("network.subnet", "%s is not an IPv4 subnet: the container subnet must be IPv4", s)
		return
	case s.Masked() != s:
		c.at("network.subnet", "%s has host bits set (did you mean %s?)", s, s.Masked())
		return
	case s.Bits() > 29:
		c.at("network.subnet", "%s is too small: the prefix must be at most /29", s)
		return
	}
	c.subnetOK = true
	if n.SlicePrefix <= s.Bits() || n.SlicePrefix > 30 {
		c.at("network.slice_prefix", "%d must be longer than the subnet's /%d and at most 30", n.SlicePrefix, s.Bits())
	}
}

// underlayInSubnet reports host i's address if it lies inside the container
// subnet: every host routes that subnet to docker0, so the tunnels' own packets to
// that address would be sent to the containers instead of the underlay.
func (c *checker) underlayInSubnet(i int, a netip.Addr) {
	s := c.t.Network.Subnet
	if !c.subnetOK || !s.Contains(a) {
		return
	}
	which := "network.subnet " + s.String()
	if !c.t.given("network.subnet") {
		which += " (the default)"
	}
	c.atItem("hosts", i, "address", "%s lies inside %s: every host routes that subnet to %s, so the tunnel packets to this address would go to the containers instead of over the underlay; choose a subnet that holds no host's address",
		a, which, c.t.Network.DockerBridge)
}

func (c *checker) hosts() {
	t := c.t
	if len(t.Hosts) == 0 && t.given("hosts") {
		c.at("hosts", "no hosts: list every host of the cluster")
	}
	slots := t.Slots()
	names := make(map[string]int, len(t.Hosts))
	addrs := make(map[netip.Addr]int, len(t.Hosts))
	indexes := make(map[int]int, len(t.Hosts))
	for i, h := range t.Hosts {
		switch {
		case h.Name == "":
			c.atItem("hosts", i, "name", "missing: every host needs a name")
		case len(h.Name) > 63 || !isName(h.Name):
			c.atItem("hosts", i, "name", "%q is not a host name (letters, digits, '-', '_', '.'; at most 63 bytes)", h.Name)
		default:
			if j, dup := names[h.Name]; dup {
				c.atItem("hosts", i, "name", "%q is also hosts[%d].name: names must be unique", h.Name, j)
			} else {
				names[h.Name] = i
			}
		}
		switch {
		case !h.Address.IsValid():
			c.atItem("hosts", i, "address", "missing: every host needs its underlay IP address")
		default:
			if j, dup := addrs[h.Address]; dup {
				c.atItem("hosts", i, "address", "%s is also hosts[%d].address: addresses must be unique", h.Address, j)
			}
			addrs[h.Address] = i
			c.underlayInSubnet(i, h.Address)
			if first := t.Hosts[0].Address; first.IsValid() && first.Is4() != h.Address.Is4() {
				c.atItem("hosts", i, "address", "%s is not of the same IP version as hosts[0].address %s: tunnels need one underlay family", h.Address, first)
			}
		}
		switch {
		case !t.itemGiven("hosts", i, "index"):
			c.atItem("hosts", i, "index", "missing: every host needs a stable index from 1")
		case h.Index < 1 || (slots > 0 && h.Index > slots):
			c.atItem("hosts", i, "index", "%d does not fit: subnet %s with slice_prefix %d allows %d hosts (indexes 1 to %d)",
				h.Index, t.Network.Subnet, t.Network.SlicePrefix, slots, slots)
		default:
			if j, dup := indexes[h.Index]; dup {
				c.atItem("hosts", i, "index", "%d is also hosts[%d].index: indexes must be unique", h.Index, j)
			}
			indexes[h.Index] = i
		}
	}
}

func (c *checker) links() {
	t := c.t
	if !t.linksOK {
		return // no links key, no links: every pair is a candidate
	}
	known := make(map[string]bool, len(t.Hosts))
	for _, h := range t.Hosts {
		known[h.Name] = true
	}
	pairs := make(map[[2]string]int, len(t.Links))
	ok := true
	for i, l := range t.Links {
		for _, end := range []struct{ field, name string }{{"a", l.A}, {"b", l.B}} {
			if !known[end.name] {
				ok = false
				if end.name == "" {
					c.atItem("links", i, end.field, "missing: a link names two hosts, a and b")
				} else {
					c.atItem("links", i, end.field, "%q is not a host of this file", end.name)
				}
			}
		}
		if l.A == l.B && l.A != "" {
			ok = false
			c.atItem("links", i, "b", "%q links a host to itself", l.B)
		}
		if l.Cost < 1 || l.Cost > 65535 {
			c.atItem("links", i, "cost", "%d is out of range (1 to 65535)", l.Cost)
		}
		key := [2]string{min(l.A, l.B), max(l.A, l.B)}
		if j, dup := pairs[key]; dup {
			c.atItem("links", i, "", "links %s and %s again, as links[%d] does", l.A, l.B, j)
		}
		pairs[key] = i
	}
	if !ok || t.Network.Mode == ModeMesh || len(t.Hosts) < 2 || len(known) != len(t.Hosts) {
		return
	}
	if comps := t.components(t.linkEdges()); len(comps) > 1 {
		parts := make([]string, len(comps))
		for i, comp := range comps {
			parts[i] = "{" + strings.Join(comp, ", ") + "}"
		}
		c.at("links", "the links leave the hosts disconnected in %d parts: %s", len(comps), strings.Join(parts, " "))
	}
}

// Port limits of the spanning tree protocols in Open vSwitch: 802.1D STP numbers at
// most 255 ports per bridge (STP_MAX_PORTS), RSTP 4095 (RSTP_MAX_PORTS). ovs-vswitchd
// leaves further ports out of the protocol ("too many STP ports, disabling"), and
// they forward unprotected: the mesh loops.
const (
	maxSTPPorts  = 255
	maxRSTPPorts = 4095
)

// stpPorts refuses, in stp mode, a host with more tunnels than the protocol can
// number. It counts the tunnels without building them: every other host in a full
// mesh, one per distinct pair of known hosts its links name otherwise.
func (c *checker) stpPorts() {
	t := c.t
	if t.Network.Mode != ModeSTP || len(t.Hosts) == 0 {
		return
	}
	limit, proto, ways := maxSTPPorts, "802.1D STP", "set network.rstp: true (RSTP handles 4095 ports), or use mode tree or mode mesh"
	if t.Network.RSTP {
		limit, proto, ways = maxRSTPPorts, "RSTP", "use mode tree or mode mesh"
	}
	const loops = "OVS would leave the other tunnels outside the spanning tree, forwarding, and the mesh would loop"
	if !t.linksOK {
		if n := len(t.Hosts) - 1; n > limit {
			c.atItem("hosts", 0, "", "%s would have %d tunnels, as would each of the other %d hosts (mode stp without links joins every pair), but %s handles at most %d ports per bridge: %s; %s, or list links",
				t.Hosts[0].Name, n, n, proto, limit, loops, ways)
		}
		return
	}
	for i, n := range t.linkDegrees() {
		if n > limit {
			c.atItem("hosts", i, "", "%s would have %d tunnels (one per host its links join it to), but %s handles at most %d ports per bridge: %s; %s, or list fewer links for it",
				t.Hosts[i].Name, n, proto, limit, loops, ways)
		}
	}
}

// linkDegrees returns, by host, how many distinct other hosts the links join it to.
// Links naming an unknown host, or a host twice, count for nothing.
func (t *Topology) linkDegrees() []int {
	id := make(map[string]int, len(t.Hosts))
	for i, h := range t.Hosts {
		if _, dup := id[h.Name]; !dup {
			id[h.Name] = i
		}
	}
	degrees := make([]int, len(t.Hosts))
	seen := make(map[[2]int]bool, len(t.Links))
	for _, l := range t.Links {
		a, okA := id[l.A]
		b, okB := id[l.B]
		if !okA || !okB || a == b {
			continue
		}
		key := [2]int{min(a, b), max(a, b)}
		if !seen[key] {
			seen[key] = true
			degrees[a]++
			degrees[b]++
		}
	}
	return degrees
}
