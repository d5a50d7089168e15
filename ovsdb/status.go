package ovsdb

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Status is what the database says about the bridges ovsmesh owns, for `ovsmesh
// status`. It is a plain value (JSON-friendly).
type Status struct {
	OVSVersion string `json:"ovs_version,omitempty"`
	// NextCfg and CurCfg differ while ovs-vswitchd has not applied the last change
	// (or is not running).
	NextCfg int            `json:"next_cfg"`
	CurCfg  int            `json:"cur_cfg"`
	Bridges []BridgeStatus `json:"bridges"`
}

// BridgeStatus is one bridge with external_ids:ovsmesh-owner, with all its ports
// (ovsmesh's and others').
type BridgeStatus struct {
	Name         string            `json:"name"`
	Owner        string            `json:"owner"`
	DatapathType string            `json:"datapath_type"`
	FailMode     string            `json:"fail_mode,omitempty"`
	STP          bool              `json:"stp_enable"`
	RSTP         bool              `json:"rstp_enable"`
	STPStatus    map[string]string `json:"stp_status,omitempty"`  // Bridge.status (stp_bridge_id, ...)
	RSTPStatus   map[string]string `json:"rstp_status,omitempty"` // Bridge.rstp_status
	Ports        []PortStatus      `json:"ports"`
}

// PortStatus is one port and the interface of the same name (a port without such
// an interface shows its first one).
type PortStatus struct {
	Name          string            `json:"name"`
	Owned         bool              `json:"owned"` // has external_ids:ovsmesh-owner
	Type          string            `json:"type"`  // "" is a system interface
	Options       map[string]string `json:"options,omitempty"`
	OFPort        int               `json:"ofport"` // -1: could not be added; 0: not reported yet
	OFPortRequest int               `json:"ofport_request,omitempty"`
	MTU           int               `json:"mtu,omitempty"`
	Error         string            `json:"error,omitempty"`
	// Refused says why ovs-vswitchd did not set the interface up as asked (its
	// error, ofport -1, or an ofport other than ofport_request); "" when it did.
	Refused    string            `json:"refused,omitempty"`
	LinkState  string            `json:"link_state,omitempty"`
	AdminState string            `json:"admin_state,omitempty"`
	BFD        map[string]string `json:"bfd,omitempty"`
	BFDStatus  map[string]string `json:"bfd_status,omitempty"`
	STPStatus  map[string]string `json:"stp_status,omitempty"`  // Port.status (stp_state, stp_role, ...)
	RSTPStatus map[string]string `json:"rstp_status,omitempty"` // Port.rstp_status
}

// State returns the bridges that carry ovsmesh's owner mark, read from the cache
// (it sends nothing to the server).
func (c *Client) State(ctx context.Context) (Status, error) {
	if !c.connected() {
		return Status{}, fmt.Errorf("read state: %w", notConnected{c.endpoint})
	}
	t, err := c.readTables(ctx)
	if err != nil {
		return Status{}, err
	}
	return statusOf(t), nil
}

// statusOf is pure: bridges sorted by name, ports by name.
func statusOf(t tables) Status {
	s := Status{OVSVersion: deref(t.Root.OVSVersion), NextCfg: t.Root.NextCfg, CurCfg: t.Root.CurCfg}
	for _, b := range t.Bridges {
		owner, ok := b.ExternalIDs[topology.OwnerKey]
		if !ok {
			continue
		}
		bs := BridgeStatus{
			Name: b.Name, Owner: owner, DatapathType: b.DatapathType, FailMode: deref(b.FailMode),
			STP: b.STPEnable, RSTP: b.RSTPEnable, STPStatus: nonEmpty(b.Status), RSTPStatus: nonEmpty(b.RSTPStatus),
		}
		snap := snapshotOf(t, b.Name)
		for _, name := range slices.Sorted(maps.Keys(snap.Ports)) {
			bs.Ports = append(bs.Ports, portStatus(snap.Ports[name]))
		}
		s.Bridges = append(s.Bridges, bs)
	}
	slices.SortFunc(s.Bridges, func(a, b BridgeStatus) int { return cmp.Compare(a.Name, b.Name) })
	return s
}

func portStatus(rows portRows) PortStatus {
	ps := PortStatus{
		Name: rows.Port.Name, Owned: rows.owned(),
		STPStatus: nonEmpty(rows.Port.Status), RSTPStatus: nonEmpty(rows.Port.RSTPStatus),
	}
	i, ok := rows.home()
	if !ok {
		if len(rows.Ifaces) == 0 {
			return ps
		}
		i = rows.Ifaces[0]
	}
	ps.Type, ps.Options = i.Type, nonEmpty(i.Options)
	ps.OFPort, ps.OFPortRequest, ps.MTU = derefInt(i.Ofport), derefInt(i.OfportRequest), derefInt(i.MTU)
	ps.Error, ps.LinkState, ps.AdminState = deref(i.Error), deref(i.LinkState), deref(i.AdminState)
	ps.BFD, ps.BFDStatus = nonEmpty(i.BFD), nonEmpty(i.BFDStatus)
	ps.Refused = refusal(i)
	return ps
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
