package hostcheck

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"

	"github.com/ovsmesh/ovsmesh/ovsdb"
	"github.com/ovsmesh/ovsmesh/topology"
)

// Options say what Run checks and where it reads.
type Options struct {
	Topology *topology.Topology
	Host     topology.HostState // this host's plan in Topology
	// DaemonJSON is Docker's daemon.json (a missing file is fine).
	DaemonJSON string
	// DB is the OVSDB address to read ("": ovsdb.DefaultEndpoint()).
	DB string
	// DockerHost is Docker's API address (see dockerapi.New).
	DockerHost string
}

// Run probes every item in turn (the underlay path to each peer, addresses,
// ports, Open vSwitch, ARP, the firewall, Docker) and judges each into the
// report's items. It changes nothing. An error is a probe that could not run
// at all (not a finding); the report then holds the items judged before it.
func Run(ctx context.Context, o Options) (Report, error) {
	t, s := o.Topology, o.Host
	rep := Report{Host: s.Host}
	plan := Plan{UnderlayMTU: s.Docker.MTU + t.Overhead(), Overhead: t.Overhead()}
	for _, tun := range s.OVS.Tunnels {
		r := ProbePath(ctx, Ping, tun.Peer, tun.RemoteIP, plan.UnderlayMTU)
		rep.Items = append(rep.Items, JudgeUnderlay(plan, r))
	}
	nl, err := netlink.NewHandle()
	if err != nil {
		return rep, fmt.Errorf("open a netlink socket: %w", err)
	}
	defer nl.Close()
	af, err := ProbeAddresses(nl, o.DaemonJSON)
	if err != nil {
		return rep, err
	}
	rep.Items = append(rep.Items, JudgeAddresses(addressPlan(s), af)...)
	endpoint := o.DB
	if endpoint == "" {
		endpoint = ovsdb.DefaultEndpoint()
	}
	db := ReadOVSDB(ctx, endpoint)
	pf, err := probePorts(nl, t, db)
	if err != nil {
		return rep, err
	}
	rep.Items = append(rep.Items, JudgePorts(portPlan(t, s), pf)...)
	of, err := ProbeOVS(ctx, nl, db, s.Address, s.OVS.Datapath)
	if err != nil {
		return rep, err
	}
	op := OVSPlan{Datapath: s.OVS.Datapath, Address: s.Address}
	rep.Items = append(rep.Items, JudgeOVS(op, of)...)
	rep.Items = append(rep.Items, JudgeARP(op, of, ProbeARP(op, of))...)
	rep.Items = append(rep.Items, JudgeFirewall(firewallPlan(t, s), ProbeFirewall(ctx))...)
	df := ProbeDocker(ctx, o.DockerHost, s.Docker.Name, o.DaemonJSON)
	rep.Items = append(rep.Items, JudgeDocker(s.Docker, df)...)
	return rep, nil
}

func addressPlan(s topology.HostState) AddressPlan {
	return AddressPlan{Subnet: s.Docker.Subnet, Slice: s.Docker.FixedCIDR, DockerBridge: s.Docker.Name, DockerAddr: s.Docker.Address}
}

func portPlan(t *topology.Topology, s topology.HostState) PortPlan {
	p := PortPlan{Encap: t.Network.Encap, Port: t.Network.VXLANPort, Local: s.Address}
	for _, tun := range s.OVS.Tunnels {
		p.Peers = append(p.Peers, tun.RemoteIP)
	}
	return p
}

func firewallPlan(t *topology.Topology, s topology.HostState) FirewallPlan {
	p := FirewallPlan{Encap: t.Network.Encap, Port: t.Network.VXLANPort, Local: s.Address, Datapath: s.OVS.Datapath}
	for _, tun := range s.OVS.Tunnels {
		p.Peers = append(p.Peers, Peer{Name: tun.Peer, Addr: tun.RemoteIP})
	}
	return p
}

// probePorts reads the kernel's links and, with VXLAN, the UDP sockets on its port.
func probePorts(nl *netlink.Handle, t *topology.Topology, db OVSDBFacts) (PortFacts, error) {
	pf := PortFacts{OVSDB: db}
	var err error
	if pf.Links, err = ProbeLinks(nl); err != nil {
		return pf, err
	}
	if t.Network.Encap == topology.EncapVXLAN {
		if pf.Sockets, err = ProbeSockets(t.Network.VXLANPort); err != nil {
			return pf, err
		}
	}
	return pf, nil
}
