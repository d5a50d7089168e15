package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ovsmesh/ovsmesh/fleet"
)

func newFleetGrant(e *etcdFlags) *cobra.Command {
	var operator bool
	c := &cobra.Command{
		Use:   "grant HOST | grant --operator [USER]",
		Short: "Print the etcdctl commands that create a host's (or the operator's) etcd user and role",
		Long: "Prints, one per line, the etcdctl commands that create HOST's etcd user and role: read access to\n" +
			"the fleet's network settings and hosts, write access to HOST's own keys only. With --operator, the\n" +
			"operator's (USER, default " + fleet.DefaultOperator + "): read and write access to the whole fleet.\n" +
			"Run them as etcd's root user. With etcd's --client-cert-auth, the etcd user is the common name of\n" +
			"the client certificate: give each host a certificate whose common name is its name.\n" +
			"Nothing is sent to etcd.",
		Args: func(_ *cobra.Command, args []string) error {
			if operator {
				return exactArgsRange(0, 1, "at most one user name with --operator")(args)
			}
			return exactArgs(1, "one host name (or --operator)")(nil, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if e.cluster == "" {
				return usageError{errors.New("--cluster: missing: name the fleet")}
			}
			var eps []string
			for _, s := range strings.Split(e.endpoints, ",") {
				if s = strings.TrimSpace(s); s != "" {
					eps = append(eps, s)
				}
			}
			var lines []string
			var err error
			if operator {
				user := fleet.DefaultOperator
				if len(args) == 1 {
					user = args[0]
				}
				lines, err = fleet.GrantOperator(e.cluster, user, eps)
			} else {
				lines, err = fleet.Grant(e.cluster, args[0], eps)
			}
			if err != nil {
				return usageError{err}
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), strings.Join(lines, "\n"))
			return err
		},
	}
	c.Flags().BoolVar(&operator, "operator", false, "the operator's identity (fleet init, set-network, remove, migrate) instead of a host's")
	return c
}

func exactArgsRange(lo, hi int, want string) func([]string) error {
	return func(args []string) error {
		if len(args) < lo || len(args) > hi {
			return usageError{fmt.Errorf("want %s, got %d arguments", want, len(args))}
		}
		return nil
	}
}

func newFleetMigrate(e *etcdFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Convert a fleet of the layout before per-host keys, keeping every host's index and address",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := needEtcd(e)
			if err != nil {
				return err
			}
			defer c.Close()
			moved, left, err := c.Migrate(cmd.Context())
			out := cmd.OutOrStdout()
			for _, r := range moved {
				fmt.Fprintf(out, "migrated %s: index %d, address %s (not joined yet: its machine adopts it when it joins)\n", r.Name, r.Index, r.Address)
			}
			for _, st := range left {
				fmt.Fprintf(out, "left as it was: %s: %s\n", st.Key, st.Reason)
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(out, "fleet %s: %d hosts migrated, %d old records left\n", e.cluster, len(moved), len(left))
			return err
		},
	}
}
