package topology

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"net/netip"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Docker networks beside docker0 (docs/docker.md, "Networks"). Each network of the
// file becomes, on every host, a Docker network of Docker's bridge driver on a
// Linux bridge of ovsmesh's naming (BridgeName), holding an internal port of the
// OVS bridge (the way docker0 holds the bridge's own internal port). Its frames
// cross the mesh on the same tunnels as docker0's, told apart by the tunnel key:
// see netflows.go.

// MaxNetworks is the most networks a file may list: each network's flow pipeline
// takes its own block of networkTables OpenFlow tables after docker0's, and
// OpenFlow numbers tables up to 254.
const MaxNetworks = 14

// MaxNetworkKey is the largest network key: keys are bits 16 to 21 of the tunnel
// key (networkKeyShift), clear of the relay marks (bits 22 and 23 and a host
// index in bits 0 to 14) and inside a 24-bit VXLAN VNI.
const MaxNetworkKey = 63

const networkKeyShift = 16

// networkKeyMask is the tunnel key bits a network key occupies.
const networkKeyMask = MaxNetworkKey << networkKeyShift

// NetworkOFPortBase plus a network's position in the file is the ofport_request
// of the network's internal port: below the tunnels' range (TunnelOFPortBase and
// up) and above the small numbers ovs-vswitchd hands out by itself.
const NetworkOFPortBase = 32700

// ManagedLabel is the label ovsmesh puts on the Docker networks it creates (value
// "true"); a network without it is never changed nor deleted.
const ManagedLabel = "org.ovsmesh.managed"

// reservedNetworks are the names of Docker's predefined networks.
var reservedNetworks = map[string]bool{"bridge": true, "host": true, "none": true}

// NetworkSpec is one item of the file's networks list.
type NetworkSpec struct {
	Name   string       `json:"name"`
	Subnet netip.Prefix `json:"subnet"`
	// SlicePrefix is the prefix of every host's slice (its IP range), as
	// network.slice_prefix is for docker0.
	SlicePrefix int `json:"slice_prefix"`
	// Key is the network's key (1 to MaxNetworkKey); Default derives one from
	// the name when the file gives none (see DerivedKey).
	Key int `json:"key"`
}

// NetworkState is one Docker network of one host: what Docker must hold
// (dockerapi), the Linux bridge and the OVS port that joins it to the mesh.
type NetworkState struct {
	Name string `json:"name"`
	// Owner is the host; the Docker network carries it as a label.
	Owner string `json:"owner"`
	// Bridge is the Linux bridge Docker builds for the network (its option
	// com.docker.network.bridge.name).
	Bridge string `json:"bridge"`
	// Port is the OVS bridge's internal port that Bridge holds, OFPort its
	// OpenFlow port.
	Port    string       `json:"port"`
	OFPort  int          `json:"ofport_request"`
	Subnet  netip.Prefix `json:"subnet"`
	IPRange netip.Prefix `json:"ip_range"` // this host's slice
	Gateway netip.Addr   `json:"gateway"`  // this host's address on Bridge
	MTU     int          `json:"mtu"`
	// TunnelKey is the tunnel key (GRE key, VXLAN VNI) of the network's frames
	// between hosts; in a relaying mesh, the bits of networkKeyMask.
	TunnelKey uint32 `json:"tunnel_key"`
}

// InternalPort is an internal port of the OVS bridge besides the bridge's own.
type InternalPort struct {
	Name   string `json:"name"`
	OFPort int    `json:"ofport_request"`
}

// DerivedKey is the key of a network whose file entry gives none: a digest of its
// name, so that it does not change when the list is reordered.
func DerivedKey(name string) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32()%MaxNetworkKey) + 1
}

// BridgeName returns the Linux bridge of the network named name: "om-" and the
// name when that fits a Linux interface name (15 bytes), else "om-", the first
// five bytes of the name, "-" and six hex digits of a digest of the whole name.
func BridgeName(name string) string { return "om-" + ifSuffix(name) }

// NetworkPortName returns the OVS internal port that joins the network named name
// to the mesh: BridgeName with "ov-" instead of "om-".
func NetworkPortName(name string) string { return "ov-" + ifSuffix(name) }

func ifSuffix(name string) string {
	if len(name) <= maxIfName-3 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:5] + "-" + hex.EncodeToString(sum[:3])
}

// networkKeys are the keys of a network item, sorted.
var networkKeys = []string{"key", "name", "slice_prefix", "subnet"}

func (d *decoder) networks(n *yaml.Node, path string) {
	if n.Kind != yaml.SequenceNode {
		d.problem(n, path, "want a list of networks such as {name: app, subnet: 10.20.0.0/16}, got %s", kindName(n))
		return
	}
	d.t.Networks = make([]NetworkSpec, len(n.Content))
	for i, item := range n.Content {
		nw := &d.t.Networks[i]
		p := path + "[" + strconv.Itoa(i) + "]"
		d.t.pos[p] = Pos{item.Line, item.Column}
		d.fields(item, p, map[string]func(*yaml.Node, string){
			"name":         d.str(&nw.Name),
			"slice_prefix": d.integer(&nw.SlicePrefix),
			"key":          d.integer(&nw.Key),
			"subnet": func(v *yaml.Node, p string) {
				if !d.scalar(v, p, "a CIDR such as 10.20.0.0/16") {
					return
				}
				pr, err := netip.ParsePrefix(v.Value)
				if err != nil {
					d.problem(v, p, "%q is not a CIDR (want e.g. 10.20.0.0/16)", v.Value)
					return
				}
				nw.Subnet = pr
			},
		})
	}
}

// defaultNetworks fills in each network's slice_prefix (the subnet's prefix plus
// 8, at most 30) and key (DerivedKey) when the file leaves them out.
func (t *Topology) defaultNetworks() {
	for i := range t.Networks {
		nw := &t.Networks[i]
		p := "networks[" + itoa(i) + "]."
		if !t.given(p+"slice_prefix") && nw.Subnet.IsValid() {
			nw.SlicePrefix = min(nw.Subnet.Bits()+DefaultSliceBits, 30)
		}
		if !t.given(p + "key") {
			nw.Key = DerivedKey(nw.Name)
		}
	}
}

// networkSlot returns the slice and gateway address of host index i on network
// nw, by the rules of Slice and Gateway.
func networkSlot(nw NetworkSpec, i int) (slice netip.Prefix, gw netip.Addr) {
	plan := Topology{Network: Network{Subnet: nw.Subnet, SlicePrefix: nw.SlicePrefix}}
	return plan.Slice(i), plan.Gateway(i).Addr()
}

// networkSlots is Slots for a network.
func networkSlots(nw NetworkSpec) int {
	plan := Topology{Network: Network{Subnet: nw.Subnet, SlicePrefix: nw.SlicePrefix}}
	return plan.Slots()
}

// networkTunnelKey is the tunnel key of network nw's frames given docker0's, k0:
// in a relaying mesh the network's bits (docker0's are 0, and the relay marks
// fill the others); in tree mode docker0's key (a digest of the tree) with the
// network's bits flipped, so that hosts on other trees still cannot talk;
// otherwise the network's bits alone.
func (t *Topology) networkTunnelKey(nw NetworkSpec, k0 uint32) uint32 {
	bits := uint32(nw.Key) << networkKeyShift
	if t.Network.Mode == ModeTree {
		return k0 ^ bits
	}
	return bits
}

// networkStates returns the host's networks; k0 is docker0's tunnel key.
func (t *Topology) networkStates(me Host, k0 uint32) []NetworkState {
	if len(t.Networks) == 0 {
		return nil
	}
	out := make([]NetworkState, len(t.Networks))
	for j, nw := range t.Networks {
		slice, gw := networkSlot(nw, me.Index)
		out[j] = NetworkState{
			Name: nw.Name, Owner: me.Name, Bridge: BridgeName(nw.Name),
			Port: NetworkPortName(nw.Name), OFPort: NetworkOFPortBase + j,
			Subnet: nw.Subnet, IPRange: slice, Gateway: gw, MTU: t.Network.MTU,
			TunnelKey: t.networkTunnelKey(nw, k0),
		}
	}
	return out
}

// internalPorts are the OVS ports of the host's networks.
func internalPorts(nets []NetworkState) []InternalPort {
	var out []InternalPort
	for _, n := range nets {
		out = append(out, InternalPort{Name: n.Port, OFPort: n.OFPort})
	}
	return out
}

// Bridges returns the Linux bridges of the host's Docker networks, in the file's
// order: the bridges besides docker0 whose containers ovsmesh meshes.
func (s HostState) Bridges() []string {
	var out []string
	for _, n := range s.Networks {
		out = append(out, n.Bridge)
	}
	return out
}

// networkFirewall extends the host firewall to the networks' bridges and
// subnets: their containers may no more send tunnel packets of their own than
// docker0's (see firewall), each chain getting the same rules for each network.
func networkFirewall(fw Firewall, nets []NetworkState, vxlanPort int) Firewall {
	for _, n := range nets {
		more := firewall(n.Bridge, n.Subnet, vxlanPort)
		for i := range fw.Chains {
			fw.Chains[i].Rules = append(fw.Chains[i].Rules, more.Chains[i].Rules...)
		}
	}
	return fw
}
