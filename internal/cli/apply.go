package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/vishvananda/netlink"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/dockerapi"
	"github.com/ovsmesh/ovsmesh/firewall"
	"github.com/ovsmesh/ovsmesh/ifupdown"
	"github.com/ovsmesh/ovsmesh/internal/adapters"
	"github.com/ovsmesh/ovsmesh/internal/hostlock"
	"github.com/ovsmesh/ovsmesh/linuxbridge"
	"github.com/ovsmesh/ovsmesh/metrics"
	"github.com/ovsmesh/ovsmesh/ovsdb"
	"github.com/ovsmesh/ovsmesh/topofile"
	"github.com/ovsmesh/ovsmesh/topology"
)

// applyFlags are apply's command-line options.
type applyFlags struct {
	host, db, interfaces, daemonJSON string
	dryRun                           bool
	logFormat, logLevel              string
	interval                         time.Duration
	metricsAddr                      string
	takeOver, skipAddressCheck       bool
	lock                             string
	lockHeld                         bool          // fleet mode took the lock before joining: the pass or loop does not take it again
	dockerHost                       string        // "": $DOCKER_HOST, else Docker's default socket
	flapHold                         time.Duration // mesh with bfd: how long a flapping path prefers its relays

	fleet     fleetFlags               // fleet mode (--etcd) instead of a topology file
	onMetrics func(m *metrics.Metrics) // loop: called once the metrics exist
	onDB      func(db *ovsdb.Client)   // loop: called once OVSDB is connected (fleet mode reads BFD from it)
}

func newApply() *cobra.Command {
	var f applyFlags
	c := &cobra.Command{
		Use:   "apply TOPOLOGY | --etcd URLS --cluster NAME",
		Short: "Make this host's OVS bridge, tunnels, docker0, flows and files match the topology",
		Long: "apply makes one reconcile pass and exits 0 when the host matches the plan, 1 otherwise.\n" +
			"With --dry-run it prints what it would change and changes nothing.\n" +
			"With --interval it keeps the host matching: a pass at start, every interval, soon after\n" +
			"OVSDB reports a change and when the file changes, until SIGINT or SIGTERM (exit 0).",
		Args: topologyOrEtcd(&f.fleet.etcd),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDockerHost(f.dockerHost); err != nil {
				return err
			}
			if !cmd.Flags().Changed("log-level") && f.interval == 0 {
				f.logLevel = "warn" // one pass prints its changes on stdout; the log adds only trouble
			}
			if f.interval != 0 {
				if f.dryRun {
					return usageError{errors.New("--dry-run makes one pass: it cannot be combined with --interval")}
				}
				if f.interval < time.Second {
					return usageError{fmt.Errorf("--interval %s: want at least 1s", f.interval)}
				}
				if f.flapHold < 0 {
					return usageError{fmt.Errorf("--flap-hold %s: want 0 (off) or more", f.flapHold)}
				}
				if f.fleet.etcd.set() {
					return runFleetLoop(cmd.Context(), f, cmd.ErrOrStderr())
				}
				log, err := newLogger(cmd.ErrOrStderr(), f.logFormat, f.logLevel)
				if err != nil {
					return err
				}
				return runLoop(cmd.Context(), log, &topofile.Source{Path: args[0], Log: log}, args[0], f)
			}
			if f.metricsAddr != "" {
				return usageError{errors.New("--metrics-addr needs --interval (a single pass has nothing to serve)")}
			}
			if f.fleet.etcd.set() {
				return runFleetApply(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return runApply(cmd.Context(), args[0], f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.host, "host", "", "this host's name in the topology (default: the machine's hostname)")
	fl.StringVar(&f.db, "db", "", "OVSDB address, unix:PATH or tcp:HOST:PORT (default unix:$OVS_RUNDIR/db.sock)")
	fl.StringVar(&f.interfaces, "interfaces", "/etc/network/interfaces", "ifupdown interfaces file to keep the ovsmesh block in")
	fl.StringVar(&f.daemonJSON, "daemon-json", "/etc/docker/daemon.json", "Docker daemon.json to keep bridge, fixed-cidr and mtu in")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what apply would change and change nothing")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error (default warn for a single pass)")
	fl.DurationVar(&f.interval, "interval", 0, "keep reconciling: a pass every DURATION (e.g. 30s) and on every change")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "with --interval: serve /metrics and /healthz on ADDR (e.g. 127.0.0.1:9474)")
	fl.BoolVar(&f.takeOver, "take-over", false, "adopt the topology's OVS bridge or Linux (docker) bridge although ovsmesh did not build it, or another host's name is on it")
	fl.BoolVar(&f.skipAddressCheck, "skip-address-check", false, "do not require the host's address from the topology on this machine (e.g. behind NAT)")
	fl.StringVar(&f.lock, "lock", "", "lock file that makes this ovsmesh the only writer (default: ovsmesh.lock beside the OVSDB socket)")
	addDockerHost(fl, &f.dockerHost)
	fl.DurationVar(&f.flapHold, "flap-hold", time.Minute, "with --interval, in a mesh with bfd: true: a tunnel whose BFD changed 4 times within DURATION sends through its relays until stable that long (0: never)")
	f.fleet.add(fl)
	return c
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want text or json", format)}
}

// runApply is one pass of `apply TOPOLOGY`.
func runApply(ctx context.Context, path string, f applyFlags, stdout, stderr io.Writer) error {
	log, err := newLogger(stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	// Check the file and the host before connecting to anything: bad input changes
	// nothing and needs no running Open vSwitch to be reported. A file written
	// less than a second ago is read once it has settled (a copy in progress).
	t, err := topofile.LoadSettled(ctx, path, 0, 0)
	if err != nil {
		return err
	}
	return applyOnce(ctx, log, t, f, stdout)
}

// applyOnce makes one pass with t and prints its changes.
func applyOnce(ctx context.Context, log *slog.Logger, t *topology.Topology, f applyFlags, stdout io.Writer) error {
	var err error
	if f.host == "" {
		if f.host, err = os.Hostname(); err != nil {
			return fmt.Errorf("find this host's name (use --host): %w", err)
		}
	}
	if _, err := t.Host(f.host); err != nil {
		return err
	}
	if !f.dryRun && !f.lockHeld { // a dry run changes nothing: it needs no lock
		lock, err := hostlock.Acquire(lockPath(f))
		if err != nil {
			return err
		}
		defer lock.Release()
	}
	// The connection to ovsdb-server (a monitor of four tables: a tenth of a
	// second with 1000 tunnels) is made while the pass writes the files and reads
	// the flow table.
	db := ovsdb.ConnectInBackground(ctx, dbEndpoint(f), log, f.ovsdbOptions()...)
	defer db.Close()
	r, closeAll, err := newReconciler(f, log, db)
	if err != nil {
		return err
	}
	defer closeAll()
	res := r.ApplyTopology(ctx, t, f.dryRun)
	printResult(stdout, res)
	if err := res.Err(); err != nil {
		return fmt.Errorf("%s does not match the plan:\n%w", f.host, err)
	}
	return nil
}

func dbEndpoint(f applyFlags) string {
	if f.db != "" {
		return f.db
	}
	return ovsdb.DefaultEndpoint()
}

// lockPath is --lock, else the lock of the Open vSwitch instance at --db
// (hostlock.DefaultPath).
func lockPath(f applyFlags) string {
	if f.lock != "" {
		return f.lock
	}
	return hostlock.DefaultPath(dbEndpoint(f))
}

// ovsdbOptions are the ovsdb.Client options the flags ask for.
func (f applyFlags) ovsdbOptions() []ovsdb.Option {
	if f.takeOver {
		return []ovsdb.Option{ovsdb.WithTakeOver()}
	}
	return nil
}

// newReconciler wires the real adapters around the given OVSDB adapter. closeAll
// releases what it opened (not ovs).
func newReconciler(f applyFlags, log *slog.Logger, ovs adapters.OVS) (*controller.Reconciler, func(), error) {
	nl, err := netlink.NewHandle()
	if err != nil {
		return nil, nil, fmt.Errorf("open netlink: %w", err)
	}
	br := linuxbridge.New(nl, log)
	docker, err := dockerapi.New(dockerHost(f.dockerHost))
	if err != nil {
		nl.Close()
		return nil, nil, usageError{fmt.Errorf("--docker-host: %w", err)}
	}
	r := &controller.Reconciler{
		Host:     f.host,
		OVS:      ovs,
		Guard:    adapters.Guard{DB: ovs, Bridge: br, SkipAddress: f.skipAddressCheck, TakeOver: f.takeOver},
		BFD:      ovs,
		Bridge:   br,
		Flows:    &adapters.FlowTables{Log: log},
		Files:    &ifupdown.Files{Interfaces: f.interfaces, DaemonJSON: f.daemonJSON, Log: log},
		Firewall: firewall.New(log),
		Docker:   docker,
		Identity: &controller.Identity{Containers: docker, Veths: br, Table: firewall.NewIdentity(log)},
		Log:      log,
		// the topology's Docker networks (controller/networks.go)
		DockerNetworks: docker,
		NetworkPorts:   br,
		// A single pass sees one reading of the flap counts: the hold needs a loop.
		FlapHold: f.flapHold,
	}
	return r, func() { nl.Close(); docker.Close() }, nil
}

// printResult prints a pass's changes, one line each under its step, and a summary.
// The lines go out through one buffer: a first apply at N=1000 prints 11,000 of
// them, one write(2) each without it (30 ms).
func printResult(out io.Writer, res controller.Result) {
	w := bufio.NewWriterSize(out, 64<<10)
	defer w.Flush()
	verb := "changed"
	if res.DryRun {
		verb = "would change"
	}
	n := 0
	for _, s := range res.Steps {
		for _, c := range s.Changes {
			fmt.Fprintf(w, "%-8s %s\n", s.Name+":", c)
			n++
		}
	}
	var failed []string
	for _, s := range res.Steps {
		if s.Err != nil {
			failed = append(failed, s.Name)
		}
	}
	switch {
	case len(failed) > 0:
		fmt.Fprintf(w, "%s: %s %d, failed: %s (%s)\n", res.Host, verb, n, strings.Join(failed, ", "), res.Duration.Round(time.Millisecond))
	case n == 0:
		fmt.Fprintf(w, "%s: matches the plan, nothing to change (%s)\n", res.Host, res.Duration.Round(time.Millisecond))
	case res.DryRun:
		fmt.Fprintf(w, "%s: would change %d (dry run: nothing changed) (%s)\n", res.Host, n, res.Duration.Round(time.Millisecond))
	default:
		fmt.Fprintf(w, "%s: %s %d, matches the plan (%s)\n", res.Host, verb, n, res.Duration.Round(time.Millisecond))
	}
}
