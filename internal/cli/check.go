package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/vishvananda/netlink"

	"github.com/ovsmesh/ovsmesh/hostcheck"
	"github.com/ovsmesh/ovsmesh/ovsdb"
	"github.com/ovsmesh/ovsmesh/topology"
)

// checkFlags are check's command-line options.
type checkFlags struct {
	host, output, daemonJSON, db, dockerHost string
}

func newCheck() *cobra.Command {
	var f checkFlags
	c := &cobra.Command{
		Use:   "check TOPOLOGY",
		Short: "Pre-flight: check that this host can join the topology, changing nothing",
		Long: "check probes this host before a first apply and reports each item as ok, warning or problem,\n" +
			"with the fix: the underlay path to every peer must carry the plan's packet size with DF set;\n" +
			"no route, interface address or daemon.json key may clash with the container subnet;\n" +
			"no kernel device, UDP socket or foreign OVS port may take the tunnels' traffic;\n" +
			"ovsdb-server and ovs-vswitchd must answer, and the datapath the topology asks for be there;\n" +
			"with datapath netdev, the kernel must not answer ARP for the underlay address from the NIC (arp_ignore);\n" +
			"no nftables input or forward chain should drop the tunnels' packets from the peers (a warning);\n" +
			"Docker's network on the docker bridge must be as planned, icc on, and default-address-pools is a warning.\n" +
			"Exit status 0 when nothing is a problem, 1 otherwise, 2 on a usage error.",
		Args: exactArgs(1, "one topology file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.output != "text" && f.output != "json" {
				return usageError{fmt.Errorf("-o %q: want text or json", f.output)}
			}
			if err := checkDockerHost(f.dockerHost); err != nil {
				return err
			}
			t, s, err := loadHost(args[0], f.host)
			if err != nil {
				return err
			}
			rep, err := runCheck(cmd.Context(), t, s, f)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.output == "json" {
				err = rep.WriteJSON(out)
			} else {
				err = rep.WriteText(out)
			}
			if err != nil {
				return fmt.Errorf("write the check report: %w", err)
			}
			if n := rep.Count(hostcheck.Problem); n > 0 {
				return fmt.Errorf("check %s on host %s: %d problems", args[0], s.Host, n)
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.host, "host", "", "this host's name in the topology (default: the machine's hostname)")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	fl.StringVar(&f.daemonJSON, "daemon-json", "/etc/docker/daemon.json", "Docker daemon.json to check (a missing file is ok)")
	fl.StringVar(&f.db, "db", "", "OVSDB address to read, unix:PATH or tcp:HOST:PORT (default unix:$OVS_RUNDIR/db.sock); check never writes to it")
	addDockerHost(fl, &f.dockerHost)
	return c
}

// runCheck probes every item in turn. An error is a probe that could not run at
// all (not a finding).
func runCheck(ctx context.Context, t *topology.Topology, s topology.HostState, f checkFlags) (hostcheck.Report, error) {
	rep := hostcheck.Report{Host: s.Host}
	plan := hostcheck.Plan{UnderlayMTU: s.Docker.MTU + t.Overhead(), Overhead: t.Overhead()}
	for _, tun := range s.OVS.Tunnels {
		r := hostcheck.ProbePath(ctx, hostcheck.Ping, tun.Peer, tun.RemoteIP, plan.UnderlayMTU)
		rep.Items = append(rep.Items, hostcheck.JudgeUnderlay(plan, r))
	}
	nl, err := netlink.NewHandle()
	if err != nil {
		return rep, fmt.Errorf("open a netlink socket: %w", err)
	}
	defer nl.Close()
	af, err := hostcheck.ProbeAddresses(nl, f.daemonJSON)
	if err != nil {
		return rep, err
	}
	rep.Items = append(rep.Items, hostcheck.JudgeAddresses(addressPlan(s), af)...)
	endpoint := f.db
	if endpoint == "" {
		endpoint = ovsdb.DefaultEndpoint()
	}
	db := hostcheck.ReadOVSDB(ctx, endpoint)
	pf, err := probePorts(nl, t, db)
	if err != nil {
		return rep, err
	}
	rep.Items = append(rep.Items, hostcheck.JudgePorts(portPlan(t, s), pf)...)
	of, err := hostcheck.ProbeOVS(ctx, nl, db, s.Address, s.OVS.Datapath)
	if err != nil {
		return rep, err
	}
	op := hostcheck.OVSPlan{Datapath: s.OVS.Datapath, Address: s.Address}
	rep.Items = append(rep.Items, hostcheck.JudgeOVS(op, of)...)
	rep.Items = append(rep.Items, hostcheck.JudgeARP(op, of, hostcheck.ProbeARP(op, of))...)
	rep.Items = append(rep.Items, hostcheck.JudgeFirewall(firewallPlan(t, s), hostcheck.ProbeFirewall(ctx))...)
	df := hostcheck.ProbeDocker(ctx, dockerHost(f.dockerHost), s.Docker.Name, f.daemonJSON)
	rep.Items = append(rep.Items, hostcheck.JudgeDocker(s.Docker, df)...)
	return rep, nil
}

func addressPlan(s topology.HostState) hostcheck.AddressPlan {
	return hostcheck.AddressPlan{Subnet: s.Docker.Subnet, Slice: s.Docker.FixedCIDR, DockerBridge: s.Docker.Name, DockerAddr: s.Docker.Address}
}

func portPlan(t *topology.Topology, s topology.HostState) hostcheck.PortPlan {
	p := hostcheck.PortPlan{Encap: t.Network.Encap, Port: t.Network.VXLANPort, Local: s.Address}
	for _, tun := range s.OVS.Tunnels {
		p.Peers = append(p.Peers, tun.RemoteIP)
	}
	return p
}

func firewallPlan(t *topology.Topology, s topology.HostState) hostcheck.FirewallPlan {
	p := hostcheck.FirewallPlan{Encap: t.Network.Encap, Port: t.Network.VXLANPort, Local: s.Address, Datapath: s.OVS.Datapath}
	for _, tun := range s.OVS.Tunnels {
		p.Peers = append(p.Peers, hostcheck.Peer{Name: tun.Peer, Addr: tun.RemoteIP})
	}
	return p
}

func probePorts(nl *netlink.Handle, t *topology.Topology, db hostcheck.OVSDBFacts) (hostcheck.PortFacts, error) {
	pf := hostcheck.PortFacts{OVSDB: db}
	var err error
	if pf.Links, err = hostcheck.ProbeLinks(nl); err != nil {
		return pf, err
	}
	if t.Network.Encap == topology.EncapVXLAN {
		if pf.Sockets, err = hostcheck.ProbeSockets(t.Network.VXLANPort); err != nil {
			return pf, err
		}
	}
	return pf, nil
}
