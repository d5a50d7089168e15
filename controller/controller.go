// Package controller is ovsmesh's reconcile pass: take a topology, compute this
// host's desired state, and hand each part of it to the adapter that applies it
// (OVSDB, the docker0 bridge, the flow table, the files), collecting every error;
// and the Loop that runs passes with the topology a Source hands it.
//
// It declares the small interfaces it needs and imports only topology: it reads
// no topology file and knows nothing of etcd (the Sources are in topofile and
// fleet/agent), and the concrete adapters are wired by internal/cli
// (internal/archtest enforces this).
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Each adapter makes its subsystem match the desired state and returns one line per
// change it made (or, with dryRun, would make); no lines means it already matched.
// Apply must be safe to call again with the same value and then change nothing.
type (
	// OVS reports a bridge it created with a line that begins with "create
	// bridge NAME" (see installFlows). Its lines about ports and interfaces begin
	// with "create port ", "create interface ", "recreate port ", "delete port ",
	// "update port " or "update interface ", and such changes leave the bridge's
	// flow table alone (see flowsKept); any other line may not.
	OVS interface {
		Apply(ctx context.Context, want topology.OVSState, dryRun bool) ([]string, error)
	}
	// BridgeFirst is what an OVS may also be. ApplyBridgeFirst is Apply (never
	// a dry run), except that a bridge the database does not have goes in
	// first, alone, in a transaction of its own: created is called once
	// ovs-vswitchd has made it (with an empty flow table), and the other ports
	// follow while the pass installs the flows (see installCreated). Its lines
	// are both transactions'.
	BridgeFirst interface {
		ApplyBridgeFirst(ctx context.Context, want topology.OVSState, created func()) ([]string, error)
	}
	Bridge interface {
		Apply(ctx context.Context, want topology.DockerBridge, dryRun bool) ([]string, error)
	}
	// Flows reads and installs the flow table of the named OVS bridge.
	Flows interface {
		// Read reads the flows ovsmesh owns on the bridge. A bridge that does not
		// exist reads as an empty table (a dry run on a fresh host reports every
		// flow as added; a real install then fails clearly).
		Read(ctx context.Context, bridge string) (FlowTable, error)
	}
	// Predictor is what Flows may also be: a reader that remembers the table it
	// last verified on the bridge. Predicted returns that table as a reading,
	// without reading the bridge, when want differs from it (nil otherwise, or
	// when the verification is too old to trust): a pass installs a
	// self-guarding table from it at once, then reads the table again (see
	// installSelfGuarding).
	Predictor interface {
		Predicted(bridge string, want []topology.Flow) FlowTable
	}
	// FlowTable is one reading of a bridge's flows. Apply makes them want,
	// starting from that reading; it sends nothing when they already match.
	FlowTable interface {
		Apply(ctx context.Context, want []topology.Flow, dryRun bool) ([]string, error)
	}
	// Creator is what a FlowTable may also be. Created returns, for a reading of
	// a bridge that did not exist (nil for any other), a reading of the bridge as
	// ovs-vswitchd creates it (none of ovsmesh's flows), with the bundle of want
	// computed in advance: a pass whose OVSDB step created the bridge installs
	// the table from it without reading the new bridge (see installFlows).
	Creator interface {
		Created(want []topology.Flow) FlowTable
	}
	Files interface {
		Apply(ctx context.Context, want topology.HostState, dryRun bool) ([]string, error)
	}
	// Firewall keeps the host firewall's table (see topology.Firewall).
	Firewall interface {
		Apply(ctx context.Context, want topology.Firewall, dryRun bool) ([]string, error)
	}
)

// Subsystem names, in the order a pass reports them.
const (
	StepOVSDB    = "ovsdb"
	StepBridge   = "docker0"
	StepFlows    = "openflow"
	StepFiles    = "files"
	StepFirewall = "firewall"
	StepLoad     = "topology"
	StepGuard    = "preflight"
)

// Reconciler makes one host match a topology. Its fields are set once; a
// Reconciler must not run two passes at the same time.
type Reconciler struct {
	Host   string // this host's name in the topology
	OVS    OVS
	Bridge Bridge
	Flows  Flows
	Files  Files
	// Firewall is nil in tests that have no host firewall: the step is left out.
	Firewall Firewall
	Guard    Guard // nil: no checks
	// Docker reads Docker's own view of its network for the read-only docker
	// step, after the others; nil: no docker step.
	Docker Docker
	// Identity keeps the per-container identity checks; nil: no identity step.
	Identity *Identity
	// DockerNetworks and NetworkPorts keep the topology's Docker networks
	// (networks.go); nil DockerNetworks: no networks step.
	DockerNetworks DockerNetworks
	NetworkPorts   NetworkPorts
	// BFD reads the tunnels' BFD sessions for a mesh with bfd: true (see
	// desired); nil: every session counts as having been up.
	BFD BFDSessions
	// FlapHold is how long a tunnel whose BFD flapped flapLimit times keeps
	// preferring its relays once stable (see desired); 0: never.
	FlapHold time.Duration
	Log      *slog.Logger

	// verified remembers the bridge and owner the Guard last passed, so that a
	// pass can go on repairing docker0 and the files while ovsdb-server is down.
	verified string
	// sessions is the last reading of BFD; flaps remembers their flaps.
	sessions map[string]topology.BFDSession
	flaps    flapTracker

	linksMu sync.Mutex
	links   []string // see LinkNames
}

// LinkNames returns the kernel interfaces the last pass planned that OVSDB does
// not watch: the docker bridge and the OVS bridge's internal port enslaved to it.
// Unlike the Reconciler's other methods it is safe to call at any time.
func (r *Reconciler) LinkNames() []string {
	r.linksMu.Lock()
	defer r.linksMu.Unlock()
	return r.links
}

// Step is what one subsystem did in a pass.
type Step struct {
	Name    string   `json:"name"`
	Changes []string `json:"changes"`
	Err     error    `json:"-"`
}

// Result is the outcome of one pass.
type Result struct {
	Host     string        `json:"host"`
	DryRun   bool          `json:"dry_run"`
	Steps    []Step        `json:"steps"`
	Duration time.Duration `json:"duration"`
	// Topology is the topology the pass applied (nil when it could not be loaded).
	Topology *topology.Topology `json:"-"`
	// Want is the desired state the pass applied (zero when it could not be computed).
	Want topology.HostState `json:"-"`
}

// Changed reports whether the pass changed (or would change) anything.
func (r Result) Changed() bool {
	for _, s := range r.Steps {
		if len(s.Changes) > 0 {
			return true
		}
	}
	return false
}

// changes returns the changes of the named step.
func (r Result) changes(step string) []string {
	for _, s := range r.Steps {
		if s.Name == step {
			return s.Changes
		}
	}
	return nil
}

// Err joins the errors of every step.
func (r Result) Err() error {
	var errs []error
	for _, s := range r.Steps {
		if s.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Name, s.Err))
		}
	}
	return errors.Join(errs...)
}

// unavailable reports whether err says that a service could not be reached (an
// error in its chain has an Unavailable method that says so), as opposed to a
// refused change.
func unavailable(err error) bool {
	var u interface{ Unavailable() bool }
	return errors.As(err, &u) && u.Unavailable()
}

// ApplyTopology runs one reconcile pass with an already loaded topology: it
// computes this host's plan, asks the Guard (a refusal is the pass's only step and
// nothing is applied, not even the files), then runs the steps: every step runs
// even when an earlier one failed (a later step then usually reports why), so that
// one broken subsystem does not keep the others from converging. Steps that do not
// depend on each other run at the same time (see pass for which waits for what).
func (r *Reconciler) ApplyTopology(ctx context.Context, t *topology.Topology, dryRun bool) Result {
	start := time.Now()
	res := Result{Host: r.Host, DryRun: dryRun, Topology: t}
	want, err := r.desired(ctx, t)
	if err != nil {
		res.Steps = []Step{{Name: StepLoad, Err: err}}
		return res
	}
	res.Want = want
	r.linksMu.Lock()
	// The bridges whose ports are containers (identity) and the networks'
	// bridges and ports, which Docker may rebuild.
	r.links = append([]string{want.Docker.Port}, want.ContainerBridges()...)
	for _, n := range want.Networks {
		r.links = append(r.links, n.Port)
	}
	r.linksMu.Unlock()
	down, err := r.check(ctx, want)
	if err != nil {
		res.Steps = []Step{{Name: StepGuard, Err: err}}
		return res
	}
	p := r.newPass(want, dryRun)
	p.ovsDown = down
	res.Steps = p.run(ctx)
	for _, s := range res.Steps {
		for _, c := range s.Changes {
			r.Log.Info("change", "host", r.Host, "step", s.Name, "change", c, "dry_run", dryRun)
		}
	}
	res.Duration = time.Since(start)
	if !res.Changed() && res.Err() == nil {
		r.Log.Debug("converged", "host", r.Host, "duration", res.Duration)
	}
	return res
}
