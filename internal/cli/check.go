package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ovsmesh/ovsmesh/hostcheck"
)

func newCheck() *cobra.Command {
	var host, output string
	c := &cobra.Command{
		Use:   "check TOPOLOGY",
		Short: "Pre-flight: check that this host can join the topology, changing nothing",
		Long: "check probes this host before a first apply and reports each item as ok, warning or problem,\n" +
			"with the fix: the underlay path to every peer must carry the plan's packet size with DF set.\n" +
			"Exit status 0 when nothing is a problem, 1 otherwise, 2 on a usage error.",
		Args: exactArgs(1, "one topology file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usageError{fmt.Errorf("-o %q: want text or json", output)}
			}
			t, s, err := loadHost(args[0], host)
			if err != nil {
				return err
			}
			plan := hostcheck.Plan{UnderlayMTU: s.Docker.MTU + t.Overhead(), Overhead: t.Overhead()}
			rep := hostcheck.Report{Host: s.Host}
			for _, tun := range s.OVS.Tunnels {
				r := hostcheck.ProbePath(cmd.Context(), hostcheck.Ping, tun.Peer, tun.RemoteIP, plan.UnderlayMTU)
				rep.Items = append(rep.Items, hostcheck.JudgeUnderlay(plan, r))
			}
			out := cmd.OutOrStdout()
			if output == "json" {
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
	c.Flags().StringVar(&host, "host", "", "this host's name in the topology (default: the machine's hostname)")
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}
