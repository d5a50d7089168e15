package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/ovsmesh/ovsmesh/fleet"
	"github.com/ovsmesh/ovsmesh/topology"
)

// etcdFlags say where a fleet lives.
type etcdFlags struct {
	endpoints, cluster string
	ca, cert, key      string
	insecure           bool
}

func (e *etcdFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&e.endpoints, "etcd", "", "fleet mode: etcd endpoints, comma-separated https:// URLs")
	fs.StringVar(&e.cluster, "cluster", "", "fleet mode: the fleet's name (its keys are under /ovsmesh/NAME/)")
	fs.StringVar(&e.ca, "etcd-ca", os.Getenv("OVSMESH_ETCD_CA"), "CA certificate of etcd's server certificate (env OVSMESH_ETCD_CA)")
	fs.StringVar(&e.cert, "etcd-cert", os.Getenv("OVSMESH_ETCD_CERT"), "this host's client certificate for etcd (env OVSMESH_ETCD_CERT)")
	fs.StringVar(&e.key, "etcd-key", os.Getenv("OVSMESH_ETCD_KEY"), "the client certificate's key (env OVSMESH_ETCD_KEY)")
	fs.BoolVar(&e.insecure, "etcd-insecure", false, "allow plain http:// etcd endpoints (labs only: no encryption, no authentication)")
}

func (e *etcdFlags) set() bool { return e.endpoints != "" }

func (e *etcdFlags) connect() (*fleet.Client, error) {
	if e.cluster == "" {
		return nil, usageError{errors.New("--cluster: missing: fleet mode needs the fleet's name")}
	}
	var eps []string
	for _, s := range strings.Split(e.endpoints, ",") {
		if s = strings.TrimSpace(s); s != "" {
			eps = append(eps, s)
		}
	}
	c, err := fleet.Connect(fleet.Config{Endpoints: eps, Insecure: e.insecure, CA: e.ca, Cert: e.cert, Key: e.key, Cluster: e.cluster})
	if err != nil {
		return nil, usageError{flagError(err)}
	}
	return c, nil
}

// etcdFlag is the option of each fleet.Config setting.
var etcdFlag = map[string]string{"Endpoints": "--etcd", "Cluster": "--cluster", "CA": "--etcd-ca", "Cert": "--etcd-cert", "Key": "--etcd-key"}

// flagError words a fleet error with the options that set what it names.
func flagError(err error) error {
	var se *fleet.SettingError
	switch {
	case errors.As(err, &se):
		msg := se.Format(func(s string) string { return etcdFlag[s] })
		if errors.Is(se, fleet.ErrPlainHTTP) {
			msg += ": use https:// with --etcd-ca, --etcd-cert and --etcd-key, or --etcd-insecure in a lab"
		}
		return worded{msg, err}
	case errors.Is(err, fleet.ErrAddressTaken):
		return fmt.Errorf("%w (--address)", err)
	}
	return err
}

// worded is an error in other words.
type worded struct {
	msg string
	err error
}

func (w worded) Error() string { return w.msg }
func (w worded) Unwrap() error { return w.err }

// topologyOrEtcd: a TOPOLOGY file or --etcd, never both, never neither.
func topologyOrEtcd(e *etcdFlags) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case e.set() && len(args) > 0:
			return usageError{fmt.Errorf("%s and --etcd: give a topology file or --etcd, not both", args[0])}
		case e.set():
			return nil
		case e.cluster != "":
			return usageError{errors.New("--cluster needs --etcd")}
		}
		return exactArgs(1, "one topology file (or --etcd URLS --cluster NAME)")(nil, args)
	}
}

// fleetHost reads the fleet's view and host's desired state ("" = this machine).
func fleetHost(ctx context.Context, e *etcdFlags, host string) (*topology.Topology, topology.HostState, fleet.Snapshot, error) {
	c, err := e.connect()
	if err != nil {
		return nil, topology.HostState{}, fleet.Snapshot{}, err
	}
	defer c.Close()
	if host == "" {
		if host, err = os.Hostname(); err != nil {
			return nil, topology.HostState{}, fleet.Snapshot{}, fmt.Errorf("find this host's name (use --host): %w", err)
		}
	}
	snap, err := c.Snapshot(ctx, fleet.ViewOptions{Self: host})
	if err != nil {
		return nil, topology.HostState{}, snap, err
	}
	if snap.Topology == nil {
		return nil, topology.HostState{}, snap, fmt.Errorf("fleet %s at revision %d has no usable view: %w", e.cluster, snap.Revision, snap.Err)
	}
	s, err := snap.Topology.Desired(host)
	return snap.Topology, s, snap, err
}

func newFleet() *cobra.Command {
	var e etcdFlags
	c := &cobra.Command{
		Use:   "fleet",
		Short: "Fleet mode: the topology lives in etcd and hosts register themselves",
		Long: "In fleet mode every host runs `ovsmesh apply --etcd URLS --cluster NAME --interval 30s`:\n" +
			"it registers itself, claims the smallest free index for good, and follows the fleet.\n" +
			"These commands seed and inspect the fleet.",
		Args: exactArgs(0, "a subcommand: init, status, set-network, remove, export, grant or migrate"),
		RunE: func(*cobra.Command, []string) error {
			return usageError{errors.New("missing subcommand: init, status, set-network, remove, export, grant or migrate")}
		},
	}
	e.add(c.PersistentFlags())
	c.AddCommand(newFleetInit(&e), newFleetStatus(&e), newFleetSetNetwork(&e), newFleetRemove(&e), newFleetExport(&e),
		newFleetGrant(&e), newFleetMigrate(&e))
	for _, sub := range c.Commands() {
		sub.SilenceUsage = true
	}
	return c
}

// needEtcd is the check every fleet subcommand makes first.
func needEtcd(e *etcdFlags) (*fleet.Client, error) {
	if !e.set() {
		return nil, usageError{errors.New("--etcd: missing: fleet commands need --etcd URLS --cluster NAME")}
	}
	return e.connect()
}

// fileNetwork reads a topology file: checked whole as apply would (when it lists
// hosts), and its network section as written (the keys the operator gave, so
// that defaults stay defaults).
func fileNetwork(path string) (map[string]any, *topology.Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read topology: %w", err)
	}
	var raw struct {
		Network  map[string]any `yaml:"network"`
		Hosts    []any          `yaml:"hosts"`
		Networks []any          `yaml:"networks"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		_, cerr := topology.Compile(path, data) // the same message as validate
		return nil, nil, cerr
	}
	if raw.Network == nil {
		raw.Network = map[string]any{}
	}
	if raw.Networks != nil { // stored with the settings (see fleet.NetworksKey)
		raw.Network[fleet.NetworksKey] = raw.Networks
	}
	if raw.Hosts == nil {
		// Network settings alone.
		if _, err := topology.CompileNetwork(path, data); err != nil {
			return nil, nil, err
		}
		return raw.Network, nil, nil
	}
	t, err := topology.Compile(path, data)
	if err != nil {
		return nil, nil, err
	}
	return raw.Network, t, nil
}

func newFleetInit(e *etcdFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "init TOPOLOGY",
		Short: "Seed the fleet: the file's network settings, and its hosts with their indexes",
		Args:  exactArgs(1, "one topology file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			network, t, err := fileNetwork(args[0])
			if err != nil {
				return err
			}
			var hosts []fleet.Record
			if t != nil {
				for _, h := range t.Hosts {
					hosts = append(hosts, fleet.Record{Name: h.Name, Address: h.Address, Index: h.Index})
				}
			}
			if _, err := fleet.Slots(network); err != nil {
				return fmt.Errorf("%s: network settings: %w", args[0], err)
			}
			c, err := needEtcd(e)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Init(cmd.Context(), network, hosts); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "fleet %s: network settings of %s stored, %d hosts registered with their indexes\n", e.cluster, args[0], len(hosts))
			if t != nil && len(t.Links) > 0 {
				fmt.Fprintf(out, "note: the file's %d links are not kept: in fleet mode every pair of hosts is a candidate link\n", len(t.Links))
			}
			return nil
		},
	}
}
