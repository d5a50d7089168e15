package topology

import "net/netip"

// Encapsulations, modes and datapaths accepted in the topology file.
const (
	EncapGRE   = "gre"
	EncapVXLAN = "vxlan"

	ModeMesh = "mesh"
	ModeSTP  = "stp"
	ModeTree = "tree"

	DatapathSystem = "system"
	DatapathNetdev = "netdev"
)

// Defaults applied by (*Topology).Default for keys the file leaves out.
const (
	DefaultBridge       = "br0"
	DefaultEncap        = EncapVXLAN
	DefaultMode         = ModeMesh
	DefaultDatapath     = DatapathSystem
	DefaultUnderlayMTU  = 1500
	DefaultDockerBridge = "docker0"
	DefaultVXLANPort    = 4789
	DefaultSubnet       = "172.17.0.0/16" // Docker's own default bridge subnet
	DefaultSliceBits    = 8               // default slice_prefix = subnet prefix + 8 (at most 30)
	DefaultLinkCost     = 1
	DefaultBFDMult      = 3 // BFD packets missed before a path is down
)

// Topology is a parsed topology file. Parse fills it from YAML, Default fills in
// what the file left out, Validate checks it without changing it.
type Topology struct {
	Network Network `json:"network"`
	Hosts   []Host  `json:"hosts"`
	Links   []Link  `json:"links,omitempty"`
	// Networks are the Docker networks meshed beside docker0 (networks.go).
	Networks []NetworkSpec `json:"networks,omitempty"`

	// File is the name used in error messages ("topology.yaml").
	File string `json:"-"`

	pos     map[string]Pos  // field path of a top-level or network key ("network.mtu") → position of its value
	hostPos []itemPos       // where hosts[i] and its keys are
	linkPos []itemPos       // where links[i] and its keys are
	bad     map[string]bool // field paths whose value failed to decode; Validate skips them
	linksOK bool            // the file has a links key (an empty list still means "no candidates")
}

// Network is the cluster-wide part of the file.
type Network struct {
	Bridge       string       `json:"bridge"`
	Encap        string       `json:"encap"`
	Mode         string       `json:"mode"`
	Datapath     string       `json:"datapath"`
	UnderlayMTU  int          `json:"underlay_mtu"`
	MTU          int          `json:"mtu"` // 0 before Default: computed from UnderlayMTU
	Subnet       netip.Prefix `json:"subnet"`
	SlicePrefix  int          `json:"slice_prefix"`
	DockerBridge string       `json:"docker_bridge"`
	VXLANPort    int          `json:"vxlan_port"`
	Key          *uint32      `json:"key,omitempty"` // GRE key / VXLAN VNI; nil: none
	RSTP         bool         `json:"rstp"`
	BFD          bool         `json:"bfd"`
	// BFDIntervalMS is bfd:min_tx and bfd:min_rx of every tunnel; BFDMult is
	// bfd:mult. Default fills them in when BFD is on (see DefaultBFDInterval).
	BFDIntervalMS int `json:"bfd_interval_ms,omitempty"`
	BFDMult       int `json:"bfd_mult,omitempty"`
}

// Host is one Docker host of the cluster.
type Host struct {
	Name    string     `json:"name"`
	Address netip.Addr `json:"address"` // underlay address
	Index   int        `json:"index"`   // slot 1..: selects the fixed-cidr slice and docker0 address
}

// Link is a candidate tunnel for the stp and tree modes.
type Link struct {
	A    string `json:"a"`
	B    string `json:"b"`
	Cost int    `json:"cost"`
}

// Pos is a position in the topology file, 1-based.
type Pos struct {
	Line int `json:"line"`
	Col  int `json:"column"`
}

// itemPos is where a list item (a host or a link) and the values of its keys are in
// the file. A 10,000-host file has 40,000 such positions: in an array per list
// rather than the field-path map they cost no map entries, and hold no pointers
// for the garbage collector to scan.
type itemPos struct {
	item Pos
	keys [3]Pos // by the key's index in hostKeys or linkKeys; zero: the item lacks the key
}
