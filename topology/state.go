package topology

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
)

// OwnerKey is the external_ids key that marks the OVSDB rows ovsmesh created; its
// value is the name of the host that owns them. Rows without it are never touched.
const OwnerKey = "ovsmesh-owner"

// FlowCookie marks every OpenFlow flow ovsmesh installs ("ovsmesh" in ASCII); flows
// with another cookie are never modified or deleted.
const FlowCookie uint64 = 0x006f76736d657368

// TunnelOFPortBase is added to the peer's index to pin a tunnel's ofport_request, so
// that the flow table text is reproducible. The range stays clear of the small
// numbers ovs-vswitchd hands out to ports without a request.
const TunnelOFPortBase = 32768

// MaxIndex is the largest host index: TunnelOFPortBase+MaxIndex is the largest
// OpenFlow port number OVS accepts (0xfeff).
const MaxIndex = 0xfeff - TunnelOFPortBase

// OpenFlowProtocols are set on the bridge; bundles (atomic flow-table replacement)
// need OpenFlow 1.4 or later.
var OpenFlowProtocols = []string{"OpenFlow10", "OpenFlow13", "OpenFlow14", "OpenFlow15"}

// HostState is everything one host must look like according to the topology: the
// value every adapter applies. It is a plain value: compare with Equal.
type HostState struct {
	Host  string `json:"host"`
	Index int    `json:"index"`
	// Address is the host's underlay address: it must be one of this machine's.
	Address netip.Addr   `json:"address"`
	Mode    string       `json:"mode"`
	OVS     OVSState     `json:"ovs"`
	Docker  DockerBridge `json:"docker"`
	Flows   []Flow       `json:"flows"`
	Daemon  DaemonConfig `json:"daemon_json"`
	// Firewall is the host firewall: the nftables table ovsmesh owns.
	Firewall Firewall `json:"firewall"`
	// Networks are the host's Docker networks beside docker0 (networks.go).
	Networks []NetworkState `json:"networks,omitempty"`
}

// OVSState is the part of HostState that lives in OVSDB.
type OVSState struct {
	// Owner is the value of external_ids:ovsmesh-owner on every row ovsmesh owns.
	Owner    string `json:"owner"`
	Bridge   string `json:"bridge"`
	Datapath string `json:"datapath_type"` // "system" or "netdev"
	STP      bool   `json:"stp_enable"`
	RSTP     bool   `json:"rstp_enable"`
	// FailMode is "secure" in mesh mode: without ovsmesh's flows (a fresh bridge,
	// a restarted ovs-vswitchd) the bridge then forwards nothing instead of falling
	// back to NORMAL, which would loop frames around the STP-less full mesh.
	FailMode  string   `json:"fail_mode"`
	Protocols []string `json:"protocols"`
	// MTU is the mtu_request of the bridge's internal interface.
	MTU     int      `json:"mtu"`
	Tunnels []Tunnel `json:"tunnels"`
	// Internal are the bridge's internal ports besides its own, one per Docker
	// network, each enslaved to that network's Linux bridge (networks.go).
	Internal []InternalPort `json:"internal,omitempty"`
}

// Tunnel is one tunnel port (Port and Interface of the same name) to a peer.
type Tunnel struct {
	Name      string     `json:"name"`
	Peer      string     `json:"peer"`
	PeerIndex int        `json:"peer_index"`
	Type      string     `json:"type"` // "gre", "ip6gre" or "vxlan"
	RemoteIP  netip.Addr `json:"remote_ip"`
	// LocalIP is options:local_ip, the host's own underlay address: without it the
	// kernel picks the source address by route, which on a multi-homed host may be
	// another one, and the peer drops every packet that does not come from the
	// remote_ip it was told.
	LocalIP netip.Addr `json:"local_ip"`
	// PacketType is options:packet_type: "legacy_l2" on ip6gre ports, whose default
	// is to carry bare L3 packets; "" for none.
	PacketType string `json:"packet_type,omitempty"`
	Key        string `json:"key,omitempty"`      // options:key; "" for none
	DstPort    int    `json:"dst_port,omitempty"` // options:dst_port (vxlan); 0 for none
	BFD        bool   `json:"bfd"`
	// BFDIntervalMS and BFDMult are the BFD timers (bfd:min_tx, bfd:min_rx and
	// bfd:mult) when BFD is on.
	BFDIntervalMS int `json:"bfd_interval_ms,omitempty"`
	BFDMult       int `json:"bfd_mult,omitempty"`
	// Relays are the peers, best first, through which frames for this peer go
	// while the direct tunnel is down (a mesh with bfd: true; see docs/bfd.md).
	Relays Relays `json:"relays,omitzero"`
	OFPort int    `json:"ofport_request"`
	// STPCost is the port's path cost, written to the key that the bridge's spanning
	// tree protocol reads (see OVSState.PathCostKey); 0 for the default.
	STPCost   int          `json:"stp_path_cost,omitempty"`
	PeerSlice netip.Prefix `json:"peer_slice"`
	PeerGW    netip.Addr   `json:"peer_docker0"`
}

// Port other_config keys of the path cost: 802.1D STP reads one, RSTP the other.
// ovsmesh manages both on its tunnel ports: the one the bridge's protocol reads
// holds the cost, the other is removed.
const (
	STPCostKey  = "stp-path-cost"
	RSTPCostKey = "rstp-path-cost"
)

// PathCostKey returns the Port other_config key of the path cost that the bridge's
// spanning tree protocol reads: rstp-path-cost under RSTP, else stp-path-cost.
func (s OVSState) PathCostKey() string {
	if s.RSTP {
		return RSTPCostKey
	}
	return STPCostKey
}

// Options returns the Interface options column the tunnel needs.
func (t Tunnel) Options() map[string]string {
	o := map[string]string{"remote_ip": t.RemoteIP.String()}
	if t.LocalIP.IsValid() {
		o["local_ip"] = t.LocalIP.String()
	}
	if t.PacketType != "" {
		o["packet_type"] = t.PacketType
	}
	if t.Key != "" {
		o["key"] = t.Key
	}
	if t.DstPort != 0 {
		o["dst_port"] = itoa(t.DstPort)
	}
	return o
}

// DockerBridge is the Linux bridge Docker uses, holding the OVS bridge's internal
// interface as a port.
type DockerBridge struct {
	Name string `json:"name"`
	// Owner is the host whose mark the bridge carries (its alias, see
	// linuxbridge.Alias).
	Owner   string       `json:"owner"`
	Address netip.Prefix `json:"address"` // e.g. 172.17.0.1/16
	MTU     int          `json:"mtu"`
	// Port is the OVS bridge's internal interface, enslaved to the Linux bridge.
	Port string `json:"port"`
	// FixedCIDR is the host's slice of the subnet, Docker's fixed-cidr.
	FixedCIDR netip.Prefix `json:"fixed_cidr"`
	// Subnet is the shared container subnet.
	Subnet netip.Prefix `json:"subnet"`
	// MAC is the bridge's pinned Ethernet address (see DockerMAC), in the form
	// "02:42:ac:11:00:01". Without one a Linux bridge takes the lowest address of its
	// ports, and the containers' gateway address changes as containers come and go.
	MAC string `json:"mac"`
}

// DaemonConfig is the set of keys ovsmesh owns in Docker's daemon.json. Exactly one
// of Bridge and BIP is set: for Docker's default bridge docker0, BIP (the bridge's
// planned address and prefix), which Docker holds to on every restart; for any
// other bridge name, Bridge (Docker refuses both at once).
type DaemonConfig struct {
	Bridge    string `json:"bridge,omitempty"`
	BIP       string `json:"bip,omitempty"`
	FixedCIDR string `json:"fixed-cidr"`
	MTU       int    `json:"mtu"`
}

// Equal reports whether two host states are the same.
func (s HostState) Equal(o HostState) bool {
	return s.Host == o.Host && s.Index == o.Index && s.Address == o.Address && s.Mode == o.Mode &&
		s.OVS.Equal(o.OVS) && s.Docker == o.Docker && s.Daemon == o.Daemon &&
		slices.EqualFunc(s.Flows, o.Flows, Flow.Equal) && s.Firewall.Equal(o.Firewall) &&
		slices.Equal(s.Networks, o.Networks)
}

// Equal reports whether two OVS states are the same.
func (s OVSState) Equal(o OVSState) bool {
	return s.Owner == o.Owner && s.Bridge == o.Bridge && s.Datapath == o.Datapath &&
		s.STP == o.STP && s.RSTP == o.RSTP && s.FailMode == o.FailMode &&
		slices.Equal(s.Protocols, o.Protocols) && s.MTU == o.MTU &&
		slices.Equal(s.Tunnels, o.Tunnels) && slices.Equal(s.Internal, o.Internal)
}

// Relays are a tunnel's relays, best first; unused places are "". An array, so
// that a Tunnel stays a comparable value; JSON writes the names as a list.
type Relays [relaysPerPair]string

// Names returns the relays' names.
func (r Relays) Names() []string {
	var names []string
	for _, n := range r {
		if n != "" {
			names = append(names, n)
		}
	}
	return names
}

func (r Relays) MarshalJSON() ([]byte, error) {
	names := r.Names()
	if names == nil {
		names = []string{} // [] rather than null
	}
	return json.Marshal(names)
}

func (r *Relays) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return err
	}
	if len(names) > len(r) {
		return fmt.Errorf("%d relays: a tunnel has at most %d", len(names), len(r))
	}
	*r = Relays{}
	copy(r[:], names)
	return nil
}

// BFDConfig returns the Interface bfd column the tunnel needs: empty without BFD.
func (t Tunnel) BFDConfig() map[string]string {
	c := map[string]string{}
	if !t.BFD {
		return c
	}
	c["enable"] = "true"
	if t.BFDIntervalMS > 0 {
		c["min_rx"], c["min_tx"] = itoa(t.BFDIntervalMS), itoa(t.BFDIntervalMS)
	}
	if t.BFDMult > 0 {
		c["mult"] = itoa(t.BFDMult)
	}
	return c
}
