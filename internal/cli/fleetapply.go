package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/ovsmesh/ovsmesh/fleet"
	"github.com/ovsmesh/ovsmesh/fleet/agent"
	"github.com/ovsmesh/ovsmesh/internal/hostlock"
	"github.com/ovsmesh/ovsmesh/metrics"
	"github.com/ovsmesh/ovsmesh/ovsdb"
)

// fleetFlags are apply's fleet-mode options.
type fleetFlags struct {
	etcd          etcdFlags
	address       string
	machineIDFile string
	viewFile      string
	leaseTTL      time.Duration
	grace         time.Duration
}

func (ff *fleetFlags) add(fs *pflag.FlagSet) {
	ff.etcd.add(fs)
	fs.StringVar(&ff.address, "address", "", "fleet mode: this host's underlay address (default: that of the interface carrying the default route)")
	def := os.Getenv("OVSMESH_MACHINE_ID_FILE")
	if def == "" {
		def = "/etc/machine-id"
	}
	fs.StringVar(&ff.machineIDFile, "machine-id-file", def, "fleet mode: file holding this machine's unique id (env OVSMESH_MACHINE_ID_FILE)")
	fs.StringVar(&ff.viewFile, "view-file", "", "fleet mode: where the last fleet view is kept for outages and reboots (default /var/lib/ovsmesh/CLUSTER.view.yaml)")
	fs.DurationVar(&ff.leaseTTL, "lease-ttl", fleet.DefaultTTL, "fleet mode: TTL of this host's liveness lease")
	fs.DurationVar(&ff.grace, "liveness-grace", fleet.DefaultGrace, "fleet mode: how long a host whose lease expired stays in this host's plan (0: none)")
}

func (ff *fleetFlags) viewPath() string {
	if ff.viewFile != "" {
		return ff.viewFile
	}
	return filepath.Join("/var/lib/ovsmesh", ff.etcd.cluster+".view.yaml")
}

// newFleetAgent checks the fleet flags and makes the agent; it takes the host
// lock (unless a dry run) and connects (without waiting for etcd). stop closes
// the connection and releases the lock.
func newFleetAgent(f applyFlags, log *slog.Logger) (a *agent.Agent, stop func(), err error) {
	ff := f.fleet
	if ff.leaseTTL < 2*time.Second {
		return nil, nil, usageError{fmt.Errorf("--lease-ttl %s: want at least 2s (etcd's minimum)", ff.leaseTTL)}
	}
	if ff.grace < 0 {
		return nil, nil, usageError{fmt.Errorf("--liveness-grace %s: want 0 or more (0: a host leaves the plans as soon as its lease expires)", ff.grace)}
	}
	cfg := agent.Config{Host: f.host, ViewFile: ff.viewPath(), TTL: ff.leaseTTL, Grace: ff.grace, Log: log}
	if cfg.Grace == 0 {
		cfg.Grace = fleet.NoGrace
	}
	if cfg.MachineID, err = fleet.ReadMachineID(ff.machineIDFile); err != nil {
		return nil, nil, err
	}
	if ff.address != "" {
		if cfg.Address, err = netip.ParseAddr(ff.address); err != nil {
			return nil, nil, usageError{fmt.Errorf("--address %q: not an IP address", ff.address)}
		}
	} else if cfg.Address, err = defaultRouteAddress(); err != nil {
		return nil, nil, err
	}
	if ff.etcd.cert != "" {
		// Under etcd's --client-cert-auth the certificate's common name is the
		// etcd user, whose role writes only that host's keys: under another
		// --host every write would be refused, so say why at once.
		user, err := fleet.CertUser(ff.etcd.cert)
		if err != nil {
			return nil, nil, usageError{flagError(err)}
		}
		if user != f.host {
			return nil, nil, usageError{fmt.Errorf("--etcd-cert %s is for %q (its common name, the etcd user), and this host is %q (--host): each host joins with its own certificate, whose common name is its name",
				ff.etcd.cert, user, f.host)}
		}
	}
	release := func() {}
	if !f.dryRun { // the flags are checked: the lock comes before any fleet action
		lock, err := hostlock.Acquire(lockPath(f))
		if err != nil {
			return nil, nil, err
		}
		release = lock.Release
	}
	if cfg.Client, err = ff.etcd.connect(); err != nil {
		release()
		return nil, nil, err
	}
	if a, err = agent.New(cfg); err != nil {
		cfg.Client.Close()
		release()
		return nil, nil, err
	}
	return a, func() { cfg.Client.Close(); release() }, nil
}

// startFleetAgent makes the logger, settles the host's name (filled into f),
// takes the host lock (unless a dry run) and makes the fleet agent: what both
// forms of `apply --etcd` start with. The lock comes before any fleet action
// (join, liveness lease, view file): a second ovsmesh on this host is refused
// before it can touch the running one's liveness key. stop releases the lock
// and closes the connection.
func startFleetAgent(f *applyFlags, stderr io.Writer) (a *agent.Agent, log *slog.Logger, stop func(), err error) {
	if log, err = newLogger(stderr, f.logFormat, f.logLevel); err != nil {
		return nil, nil, nil, err
	}
	if f.host, err = hostName(f.host); err != nil {
		return nil, nil, nil, err
	}
	if a, stop, err = newFleetAgent(*f, log); err != nil {
		return nil, nil, nil, err
	}
	f.lockHeld = !f.dryRun
	return a, log, stop, nil
}

// runFleetLoop is `apply --etcd --interval`: the agent joins, keeps the
// liveness lease and follows the view, and the reconcile loop applies each
// view it puts in force.
func runFleetLoop(ctx context.Context, f applyFlags, stderr io.Writer) error {
	a, log, stop, err := startFleetAgent(&f, stderr)
	if err != nil {
		return err
	}
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := a.Start(ctx); err != nil || ctx.Err() != nil {
		return flagError(err)
	}
	f.onDB = func(db *ovsdb.Client) { go a.PollDataPath(ctx, bfdUpRemotes(db)) }
	f.onMetrics = func(m *metrics.Metrics) {
		if err := m.Register(a.Collectors()...); err != nil {
			log.Error("fleet metrics not registered", "err", err)
		}
	}
	return runLoop(ctx, log, a, "etcd fleet "+f.fleet.etcd.cluster, f)
}

// bfdUpRemotes reads, from OVSDB's cache, the remote addresses of the tunnels
// whose BFD session is up.
func bfdUpRemotes(db *ovsdb.Client) agent.UpRemotes {
	return func(ctx context.Context) (map[netip.Addr]bool, error) {
		st, err := db.State(ctx)
		if err != nil {
			return nil, err
		}
		up := map[netip.Addr]bool{}
		for _, b := range st.Bridges {
			for _, p := range b.Ports {
				if s := p.BFDState(); !p.Tunnel() || s == nil || s.State != "up" {
					continue
				}
				if a, err := netip.ParseAddr(p.Options["remote_ip"]); err == nil {
					up[a] = true
				}
			}
		}
		return up, nil
	}
}

// runFleetApply is one pass of `apply --etcd`: join, put the liveness key, read
// the view, save it and apply it. The lease expires after --lease-ttl, which the
// warning says: a host that is to stay in the fleet runs with --interval.
func runFleetApply(ctx context.Context, f applyFlags, stdout, stderr io.Writer) error {
	a, log, stop, err := startFleetAgent(&f, stderr)
	if err != nil {
		return err
	}
	defer stop()
	if !f.dryRun {
		jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := a.Join(jctx)
		cancel()
		if err != nil {
			return flagError(err)
		}
		lctx, stop := context.WithCancel(ctx)
		defer stop()
		go a.KeepAlive(lctx)
		// The lease is not revoked at exit: a service (--interval) started
		// before it expires takes over without the others noticing.
		log.Warn("fleet: a one-shot apply keeps this host in the other hosts' plans only until its liveness lease expires and their grace has passed: run apply --etcd with --interval to stay in the fleet",
			"host", a.Host, "lease_ttl", a.TTL)
	}
	s, err := a.View(ctx, !f.dryRun)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fleet %s at etcd revision %d: %d hosts\n", s.Cluster, s.Revision, len(s.Topology.Hosts))
	return applyOnce(ctx, log, s.Topology, f, stdout)
}

func hostName(h string) (string, error) {
	if h != "" {
		return h, nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("find this host's name (use --host): %w", err)
	}
	return h, nil
}
