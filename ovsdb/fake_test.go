package ovsdb

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
	"github.com/ovsmesh/ovsmesh/topology"
)

// fakeDB builds tables (the plain copy of the cache that diff reads) by hand.
type fakeDB struct {
	t tables
	n int
}

func newFakeDB() *fakeDB {
	return &fakeDB{t: tables{
		Root:    vswitchd.OpenvSwitch{UUID: "root"},
		Bridges: map[string]vswitchd.Bridge{},
		Ports:   map[string]vswitchd.Port{},
		Ifaces:  map[string]vswitchd.Interface{},
	}}
}

func (d *fakeDB) uuid(kind string) string {
	d.n++
	return fmt.Sprintf("%s-%d", kind, d.n)
}

func (d *fakeDB) addBridge(b vswitchd.Bridge) *fakeDB {
	b.UUID = d.uuid("bridge")
	d.t.Bridges[b.UUID] = b
	d.t.Root.Bridges = append(d.t.Root.Bridges, b.UUID)
	return d
}

// addPort adds a port with its interfaces to the named bridge ("" for none).
func (d *fakeDB) addPort(bridge string, p vswitchd.Port, ifaces ...vswitchd.Interface) *fakeDB {
	p.UUID = d.uuid("port")
	p.Interfaces = nil
	for _, i := range ifaces {
		i.UUID = d.uuid("iface")
		d.t.Ifaces[i.UUID] = i
		p.Interfaces = append(p.Interfaces, i.UUID)
	}
	d.t.Ports[p.UUID] = p
	for u, b := range d.t.Bridges {
		if b.Name == bridge {
			b.Ports = append(b.Ports, p.UUID)
			d.t.Bridges[u] = b
		}
	}
	return d
}

func (d *fakeDB) editBridge(name string, f func(*vswitchd.Bridge)) *fakeDB {
	for u, b := range d.t.Bridges {
		if b.Name == name {
			f(&b)
			d.t.Bridges[u] = b
		}
	}
	return d
}

func (d *fakeDB) editPort(name string, f func(*vswitchd.Port)) *fakeDB {
	for u, p := range d.t.Ports {
		if p.Name == name {
			f(&p)
			d.t.Ports[u] = p
		}
	}
	return d
}

func (d *fakeDB) editIface(name string, f func(*vswitchd.Interface)) *fakeDB {
	for u, i := range d.t.Ifaces {
		if i.Name == name {
			f(&i)
			d.t.Ifaces[u] = i
		}
	}
	return d
}

// converged returns a database that matches want exactly, written out from the
// contract (not from diff's own code).
func converged(want topology.OVSState) *fakeDB {
	owner := func() map[string]string { return map[string]string{topology.OwnerKey: want.Owner} }
	d := newFakeDB()
	b := vswitchd.Bridge{Name: want.Bridge, DatapathType: want.Datapath, STPEnable: want.STP, RSTPEnable: want.RSTP,
		Protocols: slices.Clone(want.Protocols), ExternalIDs: owner()}
	if want.FailMode != "" {
		b.FailMode = ptr(want.FailMode)
	}
	d.addBridge(b)
	d.addPort(want.Bridge, vswitchd.Port{Name: want.Bridge, ExternalIDs: owner()},
		vswitchd.Interface{Name: want.Bridge, Type: "internal", MTURequest: ptr(want.MTU), ExternalIDs: owner()})
	for _, t := range want.Tunnels {
		p := vswitchd.Port{Name: t.Name, ExternalIDs: owner()}
		if t.STPCost != 0 {
			p.OtherConfig = map[string]string{want.PathCostKey(): strconv.Itoa(t.STPCost)}
		}
		i := vswitchd.Interface{Name: t.Name, Type: t.Type, Options: map[string]string{"remote_ip": t.RemoteIP.String()},
			OfportRequest: ptr(t.OFPort), ExternalIDs: owner()}
		if t.Key != "" {
			i.Options["key"] = t.Key
		}
		if t.LocalIP.IsValid() {
			i.Options["local_ip"] = t.LocalIP.String()
		}
		if t.PacketType != "" {
			i.Options["packet_type"] = t.PacketType
		}
		if t.BFD {
			i.BFD = map[string]string{"enable": "true"}
		}
		d.addPort(want.Bridge, p, i)
	}
	return d
}

func ptr[T any](v T) *T { return &v }

// greState is the desired state of docker1 in a GRE mesh of the given peers
// (index n, address 198.18.0.n for n < 256).
func greState(peers ...int) topology.OVSState {
	s := topology.OVSState{
		Owner: "docker1", Bridge: "br0", Datapath: topology.DatapathNetdev, FailMode: "secure",
		Protocols: slices.Clone(topology.OpenFlowProtocols), MTU: 1462,
	}
	for _, n := range peers {
		s.Tunnels = append(s.Tunnels, greTunnel(n))
	}
	return s
}

func greTunnel(n int) topology.Tunnel {
	return topology.Tunnel{
		Name: fmt.Sprintf("gre-docker%d", n), Peer: fmt.Sprintf("docker%d", n), PeerIndex: n, Type: topology.EncapGRE,
		RemoteIP: netip.AddrFrom4([4]byte{198, 18, byte(n >> 8), byte(n)}), OFPort: topology.TunnelOFPortBase + n,
	}
}
