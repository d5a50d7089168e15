package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/ovsmesh/ovsmesh/fleet"
	"github.com/ovsmesh/ovsmesh/internal/hostlock"
	"github.com/ovsmesh/ovsmesh/metrics"
	"github.com/ovsmesh/ovsmesh/ovsdb"
	"github.com/ovsmesh/ovsmesh/topofile"
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

// fleetAgent is what apply runs in fleet mode besides the reconcile loop.
type fleetAgent struct {
	c          *fleet.Client
	host       string
	addr       netip.Addr
	machineID  string
	view       string // the saved view: its header line says the last revision seen
	applied    string // the topology the loop applies: rewritten only when the view changes
	ttl        time.Duration
	grace      time.Duration // fleet.ViewOptions.Grace
	log        *slog.Logger
	n          *fleet.Counters
	written    []byte
	writtenRev int64
	held       atomic.Int64 // read by the metrics
	missing    bool         // this host was not in the last view (logged once)
	lock       *hostlock.Lock
	paths      dataPath     // the BFD sessions of this host's tunnels (service only)
	kept       atomic.Int64 // read by the metrics
}

func (a *fleetAgent) releaseLock() {
	if a.lock != nil {
		a.lock.Release()
		a.lock = nil
	}
}

// newFleetAgent checks the fleet flags and connects (without waiting for etcd).
func newFleetAgent(f applyFlags, log *slog.Logger) (*fleetAgent, error) {
	ff := f.fleet
	if ff.leaseTTL < 2*time.Second {
		return nil, usageError{fmt.Errorf("--lease-ttl %s: want at least 2s (etcd's minimum)", ff.leaseTTL)}
	}
	if ff.grace < 0 {
		return nil, usageError{fmt.Errorf("--liveness-grace %s: want 0 or more (0: a host leaves the plans as soon as its lease expires)", ff.grace)}
	}
	id, err := fleet.ReadMachineID(ff.machineIDFile)
	if err != nil {
		return nil, err
	}
	a := &fleetAgent{host: f.host, machineID: id, view: ff.viewPath(), applied: appliedPath(ff.viewPath()), ttl: ff.leaseTTL, grace: ff.grace, log: log, n: &fleet.Counters{}}
	if a.grace == 0 {
		a.grace = fleet.NoGrace
	}
	if ff.address != "" {
		if a.addr, err = netip.ParseAddr(ff.address); err != nil {
			return nil, usageError{fmt.Errorf("--address %q: not an IP address", ff.address)}
		}
	} else if a.addr, err = defaultRouteAddress(); err != nil {
		return nil, err
	}
	if ff.etcd.cert != "" {
		// Under etcd's --client-cert-auth the certificate's common name is the
		// etcd user, whose role writes only that host's keys: under another
		// --host every write would be refused, so say why at once.
		user, err := fleet.CertUser(ff.etcd.cert)
		if err != nil {
			return nil, usageError{err}
		}
		if user != f.host {
			return nil, usageError{fmt.Errorf("--etcd-cert %s is for %q (its common name, the etcd user), and this host is %q (--host): each host joins with its own certificate, whose common name is its name",
				ff.etcd.cert, user, f.host)}
		}
	}
	if !f.dryRun { // the flags are checked: the lock comes before any fleet action
		if a.lock, err = hostlock.Acquire(lockPath(f)); err != nil {
			return nil, err
		}
	}
	if a.c, err = ff.etcd.connect(); err != nil {
		a.releaseLock()
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(a.view), 0o755); err != nil {
		a.c.Close()
		a.releaseLock()
		return nil, fmt.Errorf("create the directory of the fleet view %s: %w", a.view, err)
	}
	return a, nil
}

// join registers the host, retrying while etcd is unreachable until ctx is done.
// A refusal (another machine's record, no free index, no fleet) is returned.
func (a *fleetAgent) join(ctx context.Context) error {
	retry := 200 * time.Millisecond
	for {
		r, err := a.c.Join(ctx, a.host, a.addr, a.machineID)
		if err == nil {
			a.log.Info("fleet: joined", "host", a.host, "index", r.Index, "address", r.Address)
			return nil
		}
		if !fleet.Unreachable(err) || ctx.Err() != nil {
			return err
		}
		a.log.Warn("fleet: etcd unreachable, join retried", "host", a.host, "err", err, "retry", retry)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retry):
		}
		retry = min(2*retry, 2*time.Second)
	}
}

// follow writes every view that includes this host to the view file, whose
// changes the reconcile loop picks up.
func (a *fleetAgent) follow(ctx context.Context, first chan<- struct{}) {
	var once bool
	a.c.Watch(ctx, fleet.ViewOptions{Self: a.host, Grace: a.grace, Log: a.log, Counters: a.n, DataPathUp: a.paths.isUp}, func(s fleet.Snapshot) {
		a.held.Store(int64(s.Held))
		a.kept.Store(int64(s.KeptByDataPath))
		if s.Topology == nil {
			a.log.Error("fleet view unusable: the last one stays in force", "revision", s.Revision, "err", s.Err)
			return
		}
		if _, err := s.Topology.Host(a.host); err != nil {
			if !a.missing && once {
				a.log.Warn("fleet: this host is no longer in the fleet's view (removed with fleet remove?): the last view stays in force; restart to join again",
					"host", a.host, "revision", s.Revision)
			}
			a.missing = true
			return // not registered yet, or removed: nothing new to apply
		}
		a.missing = false
		if err := a.write(s); err != nil {
			a.log.Error("fleet view not saved: the last one stays in force", "path", a.view, "err", err)
			return
		}
		if !once {
			once = true
			close(first)
		}
	})
}

// collectors are the fleet's metrics.
func (a *fleetAgent) collectors() []prometheus.Collector {
	counter := func(name, help string, v func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "ovsmesh", Name: name, Help: help}, func() float64 { return float64(v()) })
	}
	gauge := func(name, help string, v func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "ovsmesh", Name: name, Help: help}, v)
	}
	return []prometheus.Collector{
		gauge("fleet_revision", "etcd revision of the last fleet view.", func() float64 { return float64(a.n.Revision.Load()) }),
		gauge("fleet_held_hosts", "Vanished hosts kept in the plan because most hosts vanished at once.", func() float64 { return float64(a.held.Load()) }),
		gauge("fleet_kept_by_data_path_hosts", "Hosts past their liveness grace kept in the plan because this host's BFD session with them is up.",
			func() float64 { return float64(a.kept.Load()) }),
		counter("fleet_bad_records_total", "Fleet keys skipped: bad JSON, bad host records, stale indexes.", a.n.BadRecords.Load),
		counter("fleet_bad_network_total", "Fleet network settings refused (the last good ones stay in force).", a.n.BadNetwork.Load),
		counter("fleet_held_removals_total", "Times a mass loss of liveness held the removal of hosts.", a.n.HeldRemovals.Load),
		counter("fleet_relists_total", "Full reads of the fleet's keys (start, compaction, watch failure).", a.n.Relists.Load),
		counter("fleet_lease_regrants_total", "Liveness leases granted again after one was lost.", a.n.Regrants.Load),
		counter("fleet_liveness_restored_total", "This host's liveness key put back after someone else deleted or replaced it.", a.n.LivenessRestored.Load),
	}
}

// startFleetAgent makes the logger, settles the host's name (filled into f),
// takes the host lock (unless a dry run) and connects the fleet agent: what both
// forms of `apply --etcd` start with. The lock comes before any fleet action
// (join, liveness lease, view files): a second ovsmesh on this host is refused
// before it can touch the running one's liveness key. stop releases the lock
// and closes the connection.
func startFleetAgent(f *applyFlags, stderr io.Writer) (a *fleetAgent, log *slog.Logger, stop func(), err error) {
	if log, err = newLogger(stderr, f.logFormat, f.logLevel); err != nil {
		return nil, nil, nil, err
	}
	if f.host, err = hostName(f.host); err != nil {
		return nil, nil, nil, err
	}
	if a, err = newFleetAgent(*f, log); err != nil {
		return nil, nil, nil, err
	}
	f.lockHeld = a.lock != nil
	return a, log, func() { a.c.Close(); a.releaseLock() }, nil
}

// runFleetLoop is `apply --etcd --interval`: join, keep the liveness lease, follow
// the view into the view file, and run the reconcile loop on that file.
func runFleetLoop(ctx context.Context, f applyFlags, stderr io.Writer) error {
	a, log, stop, err := startFleetAgent(&f, stderr)
	if err != nil {
		return err
	}
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	joined := make(chan error, 1)
	go func() { joined <- a.join(ctx) }()
	follow := func(first chan struct{}) {
		go a.c.KeepAlive(ctx, a.host, a.machineID, a.ttl, log, a.n)
		go a.follow(ctx, first)
	}
	if a.haveView() {
		// etcd may be down (a reboot during an outage): the saved view is in
		// force at once, and joining goes on in the background.
		log.Info("fleet: starting from the saved view while joining", "path", a.view)
		go func() {
			if err := <-joined; err != nil {
				log.Error("fleet: join refused: the saved view stays in force", "host", a.host, "err", err)
				return
			}
			follow(make(chan struct{}))
		}()
	} else {
		var err error
		select {
		case <-ctx.Done():
			return nil
		case err = <-joined:
		}
		if err != nil {
			return err
		}
		first := make(chan struct{})
		follow(first)
		select {
		case <-ctx.Done():
			return nil
		case <-first:
		}
	}
	f.onDB = func(db *ovsdb.Client) { go a.paths.poll(ctx, db) }
	f.onMetrics = func(m *metrics.Metrics) {
		if err := m.Register(a.collectors()...); err != nil {
			log.Error("fleet metrics not registered", "err", err)
		}
	}
	// The view file is replaced whole (rename): it is never seen half-written,
	// so it needs no time to settle, and it is checked often.
	src := &topofile.Source{Path: a.applied, Settle: time.Millisecond, Poll: 200 * time.Millisecond, Log: log}
	return runLoop(ctx, log, src, a.applied, f)
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
		err := a.join(jctx)
		cancel()
		if err != nil {
			return err
		}
		lctx, stop := context.WithCancel(ctx)
		defer stop()
		go a.c.KeepAlive(lctx, a.host, a.machineID, a.ttl, log, a.n)
		// The lease is not revoked at exit: a service (--interval) started
		// before it expires takes over without the others noticing.
		log.Warn("fleet: a one-shot apply keeps this host in the other hosts' plans only until its liveness lease expires and their grace has passed: run apply --etcd with --interval to stay in the fleet",
			"host", a.host, "lease_ttl", a.ttl)
	}
	s, err := a.c.Snapshot(ctx, fleet.ViewOptions{Self: a.host, Log: log})
	if err != nil {
		return err
	}
	if s.Topology == nil {
		return fmt.Errorf("fleet %s at revision %d has no usable view: %w", a.c.Keys.Cluster, s.Revision, s.Err)
	}
	if _, err := s.Topology.Host(a.host); err != nil {
		return fmt.Errorf("fleet %s at revision %d: %w", a.c.Keys.Cluster, s.Revision, err)
	}
	path := a.applied
	if f.dryRun {
		tmp, err := os.CreateTemp("", "ovsmesh-fleet-view-*.yaml")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		tmp.Close()
		path = tmp.Name()
		err = os.WriteFile(path, s.Text, 0o600)
		if err != nil {
			return err
		}
	} else if err := a.write(s); err != nil {
		return fmt.Errorf("save the fleet view %s: %w", a.view, err)
	}
	fmt.Fprintf(stdout, "fleet %s at etcd revision %d: %d hosts\n", a.c.Keys.Cluster, s.Revision, len(s.Topology.Hosts))
	return runApply(ctx, path, f, stdout, stderr)
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
