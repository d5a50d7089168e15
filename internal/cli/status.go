package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/ovsmesh/ovsmesh/fleet"
	"github.com/ovsmesh/ovsmesh/ovsdb"
	"github.com/ovsmesh/ovsmesh/status"
	"github.com/ovsmesh/ovsmesh/topology"
)

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
			f := applyFlags{host: host, db: db, interfaces: interfaces, daemonJSON: daemonJSON, dockerHost: docker}
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
				rep.WriteText(out)
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
func readFleetView(path string) (*status.FleetView, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the fleet view: %w", err)
	}
	cluster, rev, text, _ := fleet.ParseViewFile(b)
	t, err := topology.Compile(path, text)
	if err != nil {
		return nil, fmt.Errorf("read the fleet view: %w", err)
	}
	r := &status.FleetView{View: path, Cluster: cluster, Revision: rev, Hosts: []string{}}
	for _, h := range t.Hosts {
		r.Hosts = append(r.Hosts, h.Name)
	}
	return r, nil
}

// collectStatus connects to OVSDB and, with a topology, wires the reconciler
// whose Drift status shows, then collects the report (status.Collect).
func collectStatus(ctx context.Context, path string, f applyFlags, dockerBridge string) (*status.Report, error) {
	log, _ := newLogger(io.Discard, "text", "error")
	var plan *status.Plan
	if path != "" {
		t, s, err := loadHost(path, f.host)
		if err != nil {
			return nil, err
		}
		plan, f.host = &status.Plan{Topology: t, Want: s}, s.Host
	}
	client, err := ovsdb.Dial(ctx, dbEndpoint(f), log)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if plan != nil {
		r, closeAll, err := newReconciler(f, log, client)
		if err != nil {
			return nil, err
		}
		defer closeAll()
		plan.Drift = r
	}
	return status.Collect(ctx, status.Options{DB: client, Plan: plan, DockerBridge: dockerBridge, DockerHost: dockerHost(f.dockerHost), Log: log})
}
