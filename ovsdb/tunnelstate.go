package ovsdb

import (
	"context"
	"strconv"

	"github.com/ovsmesh/ovsmesh/topology"
)

// The typed reading of what ovs-vswitchd reports of a port: its BFD session and
// its spanning tree role and state. The raw string maps stay in PortStatus (they
// are what `ovsmesh status -o json` prints); these are the one place that decodes
// their keys.

// IsTunnelType reports whether an Interface type is one of the encapsulations a
// topology file names (gre, vxlan): the ports status and metrics show as tunnels.
// ip6gre (GRE over IPv6 on the system datapath) is not among them.
func IsTunnelType(typ string) bool { return typ == topology.EncapGRE || typ == topology.EncapVXLAN }

// Tunnel reports whether the port is one of ovsmesh's tunnels.
func (p PortStatus) Tunnel() bool { return p.Owned && IsTunnelType(p.Type) }

// BFDState is an interface's bfd_status, decoded.
type BFDState struct {
	State      string // state: "up", "down", "init", "admin_down"; "" until reported
	Forwarding bool   // forwarding: "true", what bundle_load's liveness reads
	Flaps      int    // flap_count: changes of forwarding since the session began
}

// BFDState returns the port's BFD session; nil when bfd:enable is not "true".
func (p PortStatus) BFDState() *BFDState {
	if p.BFD["enable"] != "true" {
		return nil
	}
	flaps, _ := strconv.Atoi(p.BFDStatus["flap_count"])
	return &BFDState{State: p.BFDStatus["state"], Forwarding: p.BFDStatus["forwarding"] == "true", Flaps: flaps}
}

// Session is the session as the controller reads it: a session that came up once
// has a flap count above 0 until ovs-vswitchd restarts (it counts a flap each
// time forwarding changes).
func (s BFDState) Session() topology.BFDSession {
	return topology.BFDSession{SeenUp: s.State == "up" || s.Flaps > 0, Flaps: s.Flaps}
}

// STPState is a port's spanning tree role and state ("root"/"forwarding").
type STPState struct{ Role, State string }

// STPState returns the port's 802.1D role and state (Port.status stp_role,
// stp_state); nil when it reports no state.
func (p PortStatus) STPState() *STPState {
	if s := p.STPStatus["stp_state"]; s != "" {
		return &STPState{Role: p.STPStatus["stp_role"], State: s}
	}
	return nil
}

// RSTPState returns the port's RSTP role and state (Port.rstp_status
// rstp_port_role, rstp_port_state); nil when it reports no state.
func (p PortStatus) RSTPState() *STPState {
	if s := p.RSTPStatus["rstp_port_state"]; s != "" {
		return &STPState{Role: p.RSTPStatus["rstp_port_role"], State: s}
	}
	return nil
}

// SpanningTree returns the port's role and state in the protocol the bridge
// runs: 802.1D's when stp_enable, else RSTP's when rstp_enable; nil otherwise.
func (b BridgeStatus) SpanningTree(p PortStatus) *STPState {
	switch {
	case b.STP:
		return p.STPState()
	case b.RSTP:
		return p.RSTPState()
	}
	return nil
}

// Sessions returns the BFD sessions of the bridge's ports with BFD, by port
// name, read from the cache: the controller's BFDSessions.
func (c *Client) Sessions(ctx context.Context, bridge string) (map[string]topology.BFDSession, error) {
	st, err := c.State(ctx)
	if err != nil {
		return nil, err
	}
	return sessionsOf(st, bridge), nil
}

func sessionsOf(st Status, bridge string) map[string]topology.BFDSession {
	seen := map[string]topology.BFDSession{}
	for _, b := range st.Bridges {
		if b.Name != bridge {
			continue
		}
		for _, p := range b.Ports {
			if s := p.BFDState(); s != nil {
				seen[p.Name] = s.Session()
			}
		}
	}
	return seen
}
