package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ovsmesh/ovsmesh/fleet"
	"github.com/ovsmesh/ovsmesh/ifupdown"
	"github.com/ovsmesh/ovsmesh/topology"
)

func newValidate() *cobra.Command {
	return &cobra.Command{
		Use:   "validate TOPOLOGY",
		Short: "Check a topology file and report every problem with its line and column",
		Args:  exactArgs(1, "one topology file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := topology.Load(args[0])
			if err != nil {
				return err
			}
			nets := ""
			if n := len(t.Networks); n > 0 {
				nets = fmt.Sprintf(", %d networks", n)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s: ok: %d hosts, %s %s, mtu %d, %d tunnels%s\n",
				args[0], len(t.Hosts), t.Network.Encap, t.Network.Mode, t.Network.MTU, t.EdgeCount(), nets)
			return err
		},
	}
}

func newPlan() *cobra.Command {
	var host, output string
	var e etcdFlags
	c := &cobra.Command{
		Use:   "plan TOPOLOGY | --etcd URLS --cluster NAME",
		Short: "Show what this host must look like (text, json), or the whole mesh (dot)",
		Args:  topologyOrEtcd(&e),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			switch output {
			case "dot", "text", "json":
			default:
				return usageError{fmt.Errorf("-o %q: want text, json or dot", output)}
			}
			var t *topology.Topology
			var s topology.HostState
			var err error
			if e.set() {
				// The fleet's revision: on stdout for people, on stderr for programs.
				var snap fleet.Snapshot
				t, s, snap, err = fleetHost(cmd.Context(), &e, host)
				if snap.Revision != 0 {
					w := cmd.ErrOrStderr()
					if output == "text" {
						w = out
					}
					fmt.Fprintf(w, "fleet %s at etcd revision %d\n", e.cluster, snap.Revision)
				}
				if t != nil && output == "dot" {
					return t.WriteDot(out)
				}
			} else if output == "dot" {
				if t, err = topology.Load(args[0]); err == nil {
					return t.WriteDot(out)
				}
			} else {
				t, s, err = loadHost(args[0], host)
			}
			if err != nil {
				return err
			}
			if output == "json" {
				return topology.WriteJSON(out, s)
			}
			return t.WriteText(out, s)
		},
	}
	c.Flags().StringVar(&host, "host", "", "host to plan (default: this machine's hostname)")
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text, json or dot")
	e.add(c.Flags())
	return c
}

func newRender() *cobra.Command {
	var host, interfaces, daemonJSON string
	c := &cobra.Command{
		Use:   "render TOPOLOGY",
		Short: "Write the interfaces block and daemon.json exactly as apply would",
		Long: "Without --interfaces or --daemon-json, render prints the ovsmesh block of\n" +
			"/etc/network/interfaces and the daemon.json that apply would write into empty files.\n" +
			"With a path, it merges into that file as apply does (everything outside the ovsmesh\n" +
			"block and every other daemon.json key is kept) and writes it when its content changes.",
		Args: exactArgs(1, "one topology file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, s, err := loadHost(args[0], host)
			if err != nil {
				return err
			}
			block := ifupdown.RenderInterfaces(s)
			if interfaces == "" && daemonJSON == "" {
				dj, err := ifupdown.MergeDaemonJSON(nil, s.Daemon)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "# /etc/network/interfaces (ovsmesh block)\n%s\n# /etc/docker/daemon.json\n%s", block, dj)
				return nil
			}
			if interfaces != "" {
				if err := mergeFile(cmd, interfaces, func(old []byte) ([]byte, error) { return ifupdown.MergeInterfaces(old, block) }); err != nil {
					return err
				}
			}
			if daemonJSON != "" {
				return mergeFile(cmd, daemonJSON, func(old []byte) ([]byte, error) { return ifupdown.MergeDaemonJSON(old, s.Daemon) })
			}
			return nil
		},
	}
	c.Flags().StringVar(&host, "host", "", "host to render (default: this machine's hostname)")
	c.Flags().StringVar(&interfaces, "interfaces", "", "merge the ovsmesh block into this interfaces file")
	c.Flags().StringVar(&daemonJSON, "daemon-json", "", "merge ovsmesh's keys into this daemon.json")
	return c
}

// mergeFile merges path (ifupdown.MergeFile) and says whether it was written.
func mergeFile(cmd *cobra.Command, path string, merge func([]byte) ([]byte, error)) error {
	changed, err := ifupdown.MergeFile(path, merge)
	if err != nil {
		return err
	}
	state := "unchanged"
	if changed {
		state = "written"
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", path, state)
	return err
}
