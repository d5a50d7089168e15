// Package cli is ovsmesh's command line: cobra commands that parse arguments, load
// the topology and hand it to the packages that do the work. It holds no logic of
// its own beyond wiring and output, and no package-level state.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Exit codes (docs/cli).
const (
	ExitOK      = 0
	ExitFailed  = 1 // invalid topology or failed apply
	ExitUsage   = 2
	programName = "ovsmesh"
)

// version is set at build time with -ldflags "-X github.com/ovsmesh/ovsmesh/internal/cli.version=v1.2.3".
var version = ""

// usageError marks errors in the command line itself (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Run runs the ovsmesh command line and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if len(topology.Problems(err)) > 0 {
		// One line per problem, each starting with file:line:col.
		fmt.Fprintln(stderr, err)
	} else {
		fmt.Fprintf(stderr, "%s: %v\n", programName, err)
	}
	if errors.As(err, new(usageError)) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", programName)
		return ExitUsage
	}
	return ExitFailed
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   programName,
		Short: "Join Docker hosts into one container network of Open vSwitch tunnels",
		Long: "ovsmesh makes this host's Open vSwitch bridge, tunnels, docker0 bridge, flow table,\n" +
			"/etc/network/interfaces and Docker daemon.json match one topology file for the whole cluster.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q", args[0])}
			}
			return usageError{errors.New("missing command")}
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newValidate(),
		newPlan(),
		newRender(),
		newApply(),
		newStatus(),
		newCheck(),
		newFleet(),
		newVersion(),
	)
	for _, c := range root.Commands() {
		c.SilenceUsage = true
	}
	return root
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("want %s, got %d arguments", what, len(args))}
		}
		return nil
	}
}

// loadHost loads the topology and the desired state of host ("" = this machine's
// hostname).
func loadHost(path, host string) (*topology.Topology, topology.HostState, error) {
	t, err := topology.Load(path)
	if err != nil {
		return nil, topology.HostState{}, err
	}
	if host == "" {
		if host, err = os.Hostname(); err != nil {
			return nil, topology.HostState{}, fmt.Errorf("find this host's name (use --host): %w", err)
		}
	}
	s, err := t.Desired(host)
	return t, s, err
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print ovsmesh's version",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version
			if v == "" {
				v = "(devel)"
				if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
					v = bi.Main.Version
				}
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "ovsmesh %s\n", v)
			return err
		},
	}
}
