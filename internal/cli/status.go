package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/vishvananda/netlink"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/firewall"
	"github.com/ovsmesh/ovsmesh/fleet"
	"github.com/ovsmesh/ovsmesh/linuxbridge"
	"github.com/ovsmesh/ovsmesh/openflow"
	"github.com/ovsmesh/ovsmesh/ovsdb"
	"github.com/ovsmesh/ovsmesh/topology"
)

// statusReport is what `ovsmesh status` shows; -o json prints it as is.
type statusReport struct {
	OVS     ovsdb.Status           `json:"ovs"`
	Flows   map[string]int         `json:"flows"` // bridge → flows with ovsmesh's cookie
	Docker  *linuxbridge.LinkState `json:"docker,omitempty"`
	Port    *linuxbridge.LinkState `json:"docker_port,omitempty"`
	Drift   []string               `json:"drift,omitempty"` // with a topology: what apply would change
	Matches *bool                  `json:"matches_plan,omitempty"`
	Errors  []string               `json:"errors,omitempty"`
	Fleet   *fleetViewReport       `json:"fleet,omitempty"` // with --view-file
	// Firewall is ovsmesh's nftables table: each rule with the packets it
	// dropped (nil: no such table).
	Firewall []firewall.RuleState `json:"firewall,omitempty"`
	// Paths are, in a mesh with bfd: true, the path frames to each tunnel's
	// peer take now (see topology.ChoosePath), by tunnel.
	Paths map[string]tunnelPath `json:"paths,omitempty"`
	// DockerNet is what Docker reports of its network on the docker bridge,
	// beside the plan (with a topology).
	DockerNet *dockerStatus `json:"docker_network,omitempty"`
}

// tunnelPath is the path to one tunnel's peer: direct, relayed (via a relay's
// tunnel) or down.
type tunnelPath struct {
	Path string `json:"path"`
	Via  string `json:"via,omitempty"`
	// NoRelay: frames go straight out of the tunnel, without a relay choice:
	// its BFD session was never up (see topology.PathPolicy), or the pair has no
	// relay (a two-host mesh).
	NoRelay bool `json:"no_relay,omitempty"`
}

// fleetViewReport is the saved fleet view a host applies: hosts whose
// revisions agree apply the same view.
type fleetViewReport struct {
	View     string   `json:"view_file"`
	Cluster  string   `json:"cluster,omitempty"`
	Revision int64    `json:"revision"` // 0: saved by an older ovsmesh, unknown
	Hosts    []string `json:"hosts"`
}

func newStatus() *cobra.Command {
	var host, db, output, dockerBridge, interfaces, daemonJSON, viewFile, docker string
	c := &cobra.Command{
		Use:   "status [TOPOLOGY]",
		Short: "Show what is applied now: bridge, tunnels, flows, docker0 (and, with a topology, the drift from the plan)",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{fmt.Errorf("want at most one topology file, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usageError{fmt.Errorf("-o %q: want text or json", output)}
			}
			path := ""
			if len(args) == 1 {
				path = args[0]
			}
			if err := checkDockerHost(docker); err != nil {
				return err
			}
			f := applyFlags{host: host, db: db, interfaces: interfaces, daemonJSON: daemonJSON, dryRun: true, dockerHost: docker}
			rep, err := collectStatus(cmd.Context(), path, f, dockerBridge)
			if err != nil {
				return err
			}
			if viewFile != "" {
				if rep.Fleet, err = readFleetView(viewFile); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				writeStatus(out, rep)
			}
			if rep.Matches != nil && !*rep.Matches {
				return fmt.Errorf("the host does not match %s", path)
			}
			return nil
		},
	}
	c.Flags().StringVar(&host, "host", "", "with TOPOLOGY: this host's name (default: the machine's hostname)")
	c.Flags().StringVar(&db, "db", "", "OVSDB address (default unix:$OVS_RUNDIR/db.sock)")
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	c.Flags().StringVar(&dockerBridge, "docker-bridge", topology.DefaultDockerBridge, "without TOPOLOGY: the Linux bridge to show")
	c.Flags().StringVar(&interfaces, "interfaces", "/etc/network/interfaces", "with TOPOLOGY: interfaces file to compare with the plan")
	c.Flags().StringVar(&daemonJSON, "daemon-json", "/etc/docker/daemon.json", "with TOPOLOGY: daemon.json to compare with the plan")
	addDockerHost(c.Flags(), &docker)
	c.Flags().StringVar(&viewFile, "view-file", "", "fleet mode: also show the saved fleet view's etcd revision and hosts (the apply's --view-file)")
	return c
}

// readFleetView reads a saved fleet view for status.
func readFleetView(path string) (*fleetViewReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the fleet view: %w", err)
	}
	cluster, rev, text, _ := fleet.ParseViewFile(b)
	t, err := topology.Compile(path, text)
	if err != nil {
		return nil, fmt.Errorf("read the fleet view: %w", err)
	}
	r := &fleetViewReport{View: path, Cluster: cluster, Revision: rev, Hosts: []string{}}
	for _, h := range t.Hosts {
		r.Hosts = append(r.Hosts, h.Name)
	}
	return r, nil
}

func collectStatus(ctx context.Context, path string, f applyFlags, dockerBridge string) (*statusReport, error) {
	host, db := f.host, f.db
	log, _ := newLogger(io.Discard, "text", "error")
	var want *topology.HostState
	var wantDocker *topology.DockerBridge
	var topo *topology.Topology
	if path != "" {
		var s topology.HostState
		var err error
		topo, s, err = loadHost(path, host)
		if err != nil {
			return nil, err
		}
		want, wantDocker, f.host = &s, &s.Docker, s.Host
	}
	endpoint := db
	if endpoint == "" {
		endpoint = ovsdb.DefaultEndpoint()
	}
	client, err := connect(ctx, endpoint, log)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	rep := &statusReport{Flows: map[string]int{}}
	if rep.OVS, err = client.State(ctx); err != nil {
		return nil, err
	}
	for _, b := range rep.OVS.Bridges {
		table := openflow.New(b.Name, log)
		n, err := table.Count(ctx)
		if err != nil {
			rep.Errors = append(rep.Errors, err.Error())
			continue
		}
		rep.Flows[b.Name] = n
		if err := addPaths(ctx, rep, b, table); err != nil {
			rep.Errors = append(rep.Errors, err.Error())
		}
	}
	nl, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	defer nl.Close()
	port := topology.DefaultBridge
	if want != nil {
		dockerBridge, port = want.Docker.Name, want.Docker.Port
	} else if len(rep.OVS.Bridges) == 1 {
		port = rep.OVS.Bridges[0].Name
	}
	br, p, err := linuxbridge.New(nl, log).State(ctx, dockerBridge, port)
	if err != nil {
		rep.Errors = append(rep.Errors, fmt.Sprintf("read %s: %v", dockerBridge, err))
	} else {
		rep.Docker, rep.Port = &br, &p
	}
	rules, ok, err := firewall.New(log).State(ctx, topology.FirewallTable)
	switch {
	case err != nil:
		rep.Errors = append(rep.Errors, fmt.Sprintf("read table inet %s: %v", topology.FirewallTable, err))
	case ok:
		rep.Firewall = rules
	}
	rep.DockerNet = collectDocker(ctx, dockerHost(f.dockerHost), dockerBridge, wantDocker)
	if path != "" {
		// The drift is exactly what a dry-run pass would change.
		r, closeAll, err := newReconciler(f, log, client)
		if err != nil {
			return nil, err
		}
		defer closeAll()
		res := r.ApplyTopology(ctx, topo, true)
		for _, s := range res.Steps {
			for _, ch := range s.Changes {
				rep.Drift = append(rep.Drift, s.Name+": "+ch)
			}
			if s.Err != nil && s.Name != controller.StepDocker { // the docker section names it
				rep.Errors = append(rep.Errors, s.Name+": "+s.Err.Error())
			}
		}
		ok := len(rep.Drift) == 0 && res.Err() == nil
		rep.Matches = &ok
	}
	return rep, nil
}

// addPaths adds to rep the path to each peer of a bridge whose table relays:
// the choice TableSend's bundle_load makes on the tunnels' BFD forwarding.
func addPaths(ctx context.Context, rep *statusReport, b ovsdb.BridgeStatus, table *openflow.Table) error {
	members, err := table.Paths(ctx)
	if err != nil || len(members) == 0 {
		return err
	}
	name := map[int]string{}
	alive := map[string]bool{}
	for _, p := range b.Ports {
		name[p.OFPort] = p.Name
		s := p.BFDState()
		alive[p.Name] = s != nil && s.Forwarding
	}
	if rep.Paths == nil {
		rep.Paths = map[string]tunnelPath{}
	}
	for port, ports := range members {
		names := make([]string, len(ports))
		for i, p := range ports {
			names[i] = name[p]
		}
		if len(ports) == 1 {
			rep.Paths[name[port]] = tunnelPath{Path: topology.PathDirect, NoRelay: true}
			continue
		}
		path, via := topology.ChoosePath(name[port], names, func(t string) bool { return alive[t] })
		rep.Paths[name[port]] = tunnelPath{Path: path, Via: via}
	}
	return nil
}

func writeStatus(w io.Writer, rep *statusReport) {
	if len(rep.OVS.Bridges) == 0 {
		fmt.Fprintln(w, "no bridge carries ovsmesh's owner mark")
	}
	for _, b := range rep.OVS.Bridges {
		stp := "off"
		if b.STP {
			stp = "stp"
		} else if b.RSTP {
			stp = "rstp"
		}
		mtu := 0
		var tunnels, foreign []ovsdb.PortStatus
		for _, p := range b.Ports {
			switch {
			case p.Name == b.Name:
				mtu = p.MTU
			case p.Tunnel():
				tunnels = append(tunnels, p)
			case !p.Owned:
				foreign = append(foreign, p)
			}
		}
		fmt.Fprintf(w, "bridge %s  owner=%s datapath=%s fail_mode=%s stp=%s mtu=%d flows=%d  (ovs %s, cfg %d/%d)\n",
			b.Name, b.Owner, orDash(b.DatapathType), orDash(b.FailMode), stp, mtu, rep.Flows[b.Name], orDash(rep.OVS.OVSVersion), rep.OVS.CurCfg, rep.OVS.NextCfg)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TUNNEL\tTYPE\tREMOTE\tOPTIONS\tOFPORT\tLINK\tBFD\tPATH\tSTP\tERROR")
		for _, p := range tunnels {
			var opts []string
			for k, v := range p.Options {
				if k != "remote_ip" {
					opts = append(opts, k+"="+v)
				}
			}
			sort.Strings(opts)
			bfd := "-"
			if s := p.BFDState(); s != nil {
				bfd = orDash(s.State)
			}
			stpState := "-"
			if s := cmp.Or(p.STPState(), p.RSTPState()); s != nil {
				stpState = s.Role + "/" + s.State
			}
			path := "-"
			if tp, ok := rep.Paths[p.Name]; ok {
				path = tp.Path
				if tp.Via != "" {
					path += " via " + tp.Via
				}
				if tp.NoRelay {
					path += " (no relay)"
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Type, p.Options["remote_ip"],
				orDash(strings.Join(opts, ",")), p.OFPort, orDash(p.LinkState), bfd, path, stpState, orDash(p.Error))
		}
		tw.Flush()
		for _, p := range tunnels {
			if p.Refused != "" {
				fmt.Fprintf(w, "  tunnel %s refused by ovs-vswitchd: %s\n", p.Name, p.Refused)
			}
		}
		for _, p := range foreign {
			fmt.Fprintf(w, "  foreign port %s (type %s): not ovsmesh's, left alone\n", p.Name, orDash(p.Type))
		}
	}
	if d := rep.Docker; d != nil {
		if !d.Exists {
			fmt.Fprintf(w, "%s: missing\n", d.Name)
		} else {
			fmt.Fprintf(w, "%s: %s mac=%s mtu=%d up=%v addresses=%v alias=%s; port %s: master=%s mtu=%d up=%v\n",
				d.Name, d.Type, d.MAC, d.MTU, d.Up, d.Addrs, orDash(d.Alias), rep.Port.Name, orDash(rep.Port.Master), rep.Port.MTU, rep.Port.Up)
		}
	}
	writeFirewall(w, rep.Firewall)
	if rep.DockerNet != nil {
		writeDockerStatus(w, rep.DockerNet)
	}
	if rep.Matches != nil {
		if *rep.Matches {
			fmt.Fprintln(w, "drift: none, the host matches the plan")
		} else if len(rep.Drift) == 0 {
			fmt.Fprintln(w, "drift: nothing for apply to change, but the host does not match the plan (see above)")
		} else {
			fmt.Fprintf(w, "drift: %d changes would be made by apply:\n", len(rep.Drift))
			for _, d := range rep.Drift {
				fmt.Fprintf(w, "  %s\n", d)
			}
		}
	}
	if f := rep.Fleet; f != nil {
		rev := fmt.Sprint(f.Revision)
		if f.Revision == 0 {
			rev = "unknown (saved by an older ovsmesh)"
		}
		fmt.Fprintf(w, "fleet %s: view %s at etcd revision %s: hosts %s\n", orDash(f.Cluster), f.View, rev, strings.Join(f.Hosts, ", "))
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}

// writeFirewall writes ovsmesh's nftables table: its rules and what they dropped.
func writeFirewall(w io.Writer, rules []firewall.RuleState) {
	if rules == nil {
		fmt.Fprintf(w, "firewall: no table inet %s\n", topology.FirewallTable)
		return
	}
	fmt.Fprintf(w, "firewall: table inet %s, tunnel packets from the containers dropped:\n", topology.FirewallTable)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CHAIN\tRULE\tPACKETS")
	for _, r := range rules {
		fmt.Fprintf(tw, "  %s\t%s\t%d\n", r.Chain, orDash(r.Rule), r.Packets)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
