package topology

// networks checks the networks list: names, subnets and their overlaps, the
// slices every host needs, keys, bridge names, and the modes that can keep
// networks apart.
func (c *checker) networks() {
	t := c.t
	if len(t.Networks) == 0 {
		return
	}
	if len(t.Networks) > MaxNetworks {
		c.at("networks", "%d networks: at most %d (each takes its own block of OpenFlow tables)", len(t.Networks), MaxNetworks)
	}
	if t.Network.Mode == ModeSTP {
		c.at("networks", "networks need mode mesh or tree: mode stp hands frames to OVS's NORMAL switching, which would join the networks and docker0 on the bridge")
	}
	names := map[string]int{}
	bridges := map[string]int{}
	keys := map[int]int{}
	var subnets []int // indexes of networks whose subnet is usable
	for i, nw := range t.Networks {
		p := "networks[" + itoa(i) + "]"
		nameOK := c.networkName(i, nw, names, bridges)
		if c.networkSubnet(p, nw) {
			for _, j := range subnets {
				if o := t.Networks[j].Subnet; o.Overlaps(nw.Subnet) {
					c.at(p+".subnet", "%s overlaps networks[%d].subnet %s", nw.Subnet, j, o)
				}
			}
			subnets = append(subnets, i)
			c.networkSlots(p, nw)
		}
		if nameOK || t.given(p+".key") { // a derived key follows the name's problem
			c.networkKey(p, i, nw, keys)
		}
	}
}

// networkName checks a network's name (Docker's rules, not one of Docker's own
// networks, unique) and that its Linux bridge's name is its own.
func (c *checker) networkName(i int, nw NetworkSpec, names, bridges map[string]int) bool {
	p := "networks[" + itoa(i) + "].name"
	switch {
	case nw.Name == "":
		c.at(p, "missing: every network needs a name (the Docker network's)")
		return false
	case len(nw.Name) > 63 || !isName(nw.Name):
		c.at(p, "%q is not a network name (letters, digits, '-', '_', '.'; at most 63 bytes)", nw.Name)
		return false
	case reservedNetworks[nw.Name]:
		c.at(p, "%q is one of Docker's own networks (bridge, host, none): choose another name", nw.Name)
		return false
	}
	if j, dup := names[nw.Name]; dup {
		c.at(p, "%q is also networks[%d].name: names must be unique", nw.Name, j)
		return false
	}
	names[nw.Name] = i
	b := BridgeName(nw.Name)
	if j, dup := bridges[b]; dup {
		c.at(p, "%q gets the Linux bridge %s, as networks[%d].name does: rename one of them", nw.Name, b, j)
	} else if b == c.t.Network.DockerBridge || b == c.t.Network.Bridge {
		c.at(p, "%q gets the Linux bridge %s, the name of network.docker_bridge or network.bridge", nw.Name, b)
	}
	bridges[b] = i
	return true
}

// networkSubnet checks a network's subnet and slice_prefix as network.subnet's
// are checked, and that it keeps clear of network.subnet and of every host's
// underlay address. It reports whether the subnet is usable.
func (c *checker) networkSubnet(p string, nw NetworkSpec) bool {
	s := nw.Subnet
	switch {
	case !s.IsValid():
		if !c.t.given(p + ".subnet") {
			c.at(p+".subnet", "missing: every network needs a subnet such as 10.20.0.0/16")
		}
		return false
	case !s.Addr().Is4():
		c.at(p+".subnet", "%s is not an IPv4 subnet", s)
		return false
	case s.Masked() != s:
		c.at(p+".subnet", "%s has host bits set (did you mean %s?)", s, s.Masked())
		return false
	case s.Bits() > 29:
		c.at(p+".subnet", "%s is too small: the prefix must be at most /29", s)
		return false
	}
	if c.subnetOK && s.Overlaps(c.t.Network.Subnet) {
		c.at(p+".subnet", "%s overlaps network.subnet %s (docker0's)", s, c.t.Network.Subnet)
	}
	for i, h := range c.t.Hosts {
		if h.Address.IsValid() && s.Contains(h.Address) {
			c.at(p+".subnet", "%s holds hosts[%d].address %s: every host routes the subnet to the network's bridge, so tunnel packets to that address would go to the containers", s, i, h.Address)
		}
	}
	if nw.SlicePrefix <= s.Bits() || nw.SlicePrefix > 30 {
		c.at(p+".slice_prefix", "%d must be longer than the subnet's /%d and at most 30", nw.SlicePrefix, s.Bits())
		return false
	}
	return true
}

// networkSlots checks that every host's index has a slice of the network.
func (c *checker) networkSlots(p string, nw NetworkSpec) {
	slots := networkSlots(nw)
	for i, h := range c.t.Hosts {
		if h.Index > slots {
			c.at(p+".slice_prefix", "%d leaves room for %d hosts (indexes 1 to %d), but hosts[%d] %s has index %d: use a shorter slice_prefix or a larger subnet",
				nw.SlicePrefix, slots, slots, i, h.Name, h.Index)
			return
		}
	}
}

// networkKey checks a network's key: in range, unique, and apart from docker0's.
func (c *checker) networkKey(p string, i int, nw NetworkSpec, keys map[int]int) {
	given := c.t.given(p + ".key")
	switch {
	case nw.Key < 1 || nw.Key > MaxNetworkKey:
		c.at(p+".key", "%d is out of range (1 to %d)", nw.Key, MaxNetworkKey)
		return
	case keys[nw.Key] > 0:
		j := keys[nw.Key] - 1
		how := "derived from the name"
		if given {
			how = "given"
		}
		c.at(p+".key", "%d (%s) is also networks[%d]'s key: keys must be unique; set key explicitly", nw.Key, how, j)
		return
	}
	keys[nw.Key] = i + 1
	n := c.t.Network
	if n.Mode == ModeMesh && !n.BFD && n.Key != nil && *n.Key == uint32(nw.Key)<<networkKeyShift {
		c.at(p+".key", "%d makes tunnel key %d, network.key (docker0's): choose another", nw.Key, *n.Key)
	}
}
