package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ovsmesh/ovsmesh/fleet"
)

func newFleetStatus(e *etcdFlags) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the fleet: members, index, address, alive, revision, stale entries",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usageError{fmt.Errorf("-o %q: want text or json", output)}
			}
			c, err := needEtcd(e)
			if err != nil {
				return err
			}
			defer c.Close()
			s, err := c.Snapshot(cmd.Context(), fleet.ViewOptions{})
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			return writeFleetStatus(cmd.OutOrStdout(), s)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}

func writeFleetStatus(w io.Writer, s fleet.Snapshot) error {
	alive := 0
	for _, m := range s.Members {
		if m.Alive {
			alive++
		}
	}
	fmt.Fprintf(w, "fleet %s at etcd revision %d: %d members, %d alive\n", s.Cluster, s.Revision, len(s.Members), alive)
	if s.NetworkErr != "" {
		fmt.Fprintf(w, "network settings refused: %s\n", s.NetworkErr)
	}
	if s.Topology != nil {
		n := s.Topology.Network
		fmt.Fprintf(w, "network: %s %s, subnet %s in /%d slices (%d indexes), mtu %d\n", n.Encap, n.Mode, n.Subnet, n.SlicePrefix, s.Topology.Slots(), n.MTU)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tNAME\tADDRESS\tALIVE\tMACHINE-ID")
	for _, m := range s.Members {
		id := m.MachineID
		if id == "" {
			id = "(not joined yet)"
		} else if len(id) > 12 {
			id = id[:12]
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", m.Index, m.Name, m.Address, yesNo(m.Alive), id)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, st := range s.Stale {
		fmt.Fprintf(w, "stale: %s: %s\n", st.Key, st.Reason)
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newFleetExport(e *etcdFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "export",
		Short: "Print the fleet as a topology file: every registered host with its index",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := needEtcd(e)
			if err != nil {
				return err
			}
			defer c.Close()
			s, err := c.Snapshot(cmd.Context(), fleet.ViewOptions{})
			if err != nil {
				return err
			}
			text, err := s.Export()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "# fleet %s at etcd revision %d\n%s", s.Cluster, s.Revision, text)
			return err
		},
	}
}

func newFleetRemove(e *etcdFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a host from the fleet and free its index (the only way an index is freed)",
		Args:  exactArgs(1, "one host name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := needEtcd(e)
			if err != nil {
				return err
			}
			defer c.Close()
			r, err := c.Remove(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "fleet %s: removed %s, index %d is free\n", e.cluster, r.Name, r.Index)
			return err
		},
	}
}

func newFleetSetNetwork(e *etcdFlags) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "set-network TOPOLOGY",
		Short: "Replace the fleet's network settings with those of a topology file (its hosts are ignored)",
		Args:  exactArgs(1, "one topology file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			network, _, err := fileNetwork(args[0])
			if err != nil {
				return err
			}
			c, err := needEtcd(e)
			if err != nil {
				return err
			}
			defer c.Close()
			_, modRev, err := c.Network(cmd.Context())
			if err != nil {
				return err
			}
			s, err := c.Snapshot(cmd.Context(), fleet.ViewOptions{})
			if err != nil {
				return err
			}
			var hosts []fleet.Record
			for _, m := range s.Members {
				hosts = append(hosts, m.Record)
			}
			next, _, err := fleet.Compile(args[0]+" network settings with the fleet's hosts", network, hosts)
			if err != nil {
				return err
			}
			if moved := s.MovedSlices(next); len(moved) > 0 && !force {
				return fmt.Errorf("set-network %s: it moves the slice of %s: their containers' addresses would change; nothing changed (use --force to do it anyway)",
					args[0], strings.Join(moved, ", "))
			}
			if err := c.SetNetwork(cmd.Context(), network, modRev); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "fleet %s: network settings of %s stored; every host follows\n", e.cluster, args[0])
			return err
		},
	}
	c.Flags().BoolVar(&force, "force", false, "store settings that move hosts' slices (their containers' addresses change)")
	return c
}
