package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ovsmesh/ovsmesh/hostcheck"
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
			rep, err := hostcheck.Run(cmd.Context(), hostcheck.Options{Topology: t, Host: s, DaemonJSON: f.daemonJSON, DB: f.db, DockerHost: dockerHost(f.dockerHost)})
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
