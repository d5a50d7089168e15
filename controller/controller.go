// Package controller is ovsmesh's reconcile pass: load the topology, compute this
// host's desired state, and hand each part of it to the adapter that applies it
// (OVSDB, the docker0 bridge, the flow table, the files), collecting every error.
//
// It declares the small interfaces it needs and imports only topology: the
// concrete adapters are injected by cmd/ovsmesh (a test enforces this).
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Each adapter makes its subsystem match the desired state and returns one line per
// change it made (or, with dryRun, would make); no lines means it already matched.
// Apply must be safe to call again with the same value and then change nothing.
type (
	OVS interface {
		Apply(ctx context.Context, want topology.OVSState, dryRun bool) ([]string, error)
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
	// FlowTable is one reading of a bridge's flows. Apply makes them want,
	// starting from that reading; it sends nothing when they already match.
	FlowTable interface {
		Apply(ctx context.Context, want []topology.Flow, dryRun bool) ([]string, error)
	}
	Files interface {
		Apply(ctx context.Context, want topology.HostState, dryRun bool) ([]string, error)
	}
	// Firewall keeps the host firewall's table (see topology.Firewall).
	Firewall interface {
		Apply(ctx context.Context, want topology.Firewall, dryRun bool) ([]string, error)
	}
	// Guard checks, before a pass changes anything, that this machine is the host
	// the plan is for and that everything the plan would change may be changed
	// (the bridge is ovsmesh's and this host's, its internal interface carries no
	// addresses, ...). An error whose Unavailable method reports true means it
	// could not tell (ovsdb-server unreachable).
	Guard interface {
		Check(ctx context.Context, want topology.HostState) error
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

// Reconciler makes one host match the topology file. Its fields are set once; a
// Reconciler must not run two passes at the same time.
type Reconciler struct {
	Path   string // topology file
	Host   string // this host's name in the file
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

// check runs the Guard. When it cannot tell because ovsdb-server is unreachable,
// the verdict of an earlier pass for the same bridge and owner stands: a loop then
// still repairs docker0 and the files during an outage, while a first pass (one
// that never saw the database) changes nothing.
func (r *Reconciler) check(ctx context.Context, want topology.HostState) error {
	if r.Guard == nil {
		return nil
	}
	key := want.OVS.Bridge + "\x00" + want.OVS.Owner
	err := r.Guard.Check(ctx, want)
	switch {
	case err == nil:
		r.verified = key
	case unavailable(err) && r.verified == key && !refused(err):
		r.Log.Debug("preflight: ovsdb-server unreachable, keeping the last verdict", "host", r.Host, "err", err)
		return nil
	default:
		r.verified = ""
	}
	return err
}

// refused reports whether err holds a refusal besides the unavailability: the
// Guard joins the errors of several checks.
func refused(err error) bool {
	var multi interface{ Unwrap() []error }
	if !errors.As(err, &multi) {
		return false
	}
	for _, e := range multi.Unwrap() {
		if !unavailable(e) {
			return true
		}
	}
	return false
}

// run runs one step unless the pass is abandoned.
func run(ctx context.Context, step *Step, name string, apply func() ([]string, error)) {
	step.Name = name
	if step.Err = ctx.Err(); step.Err == nil {
		step.Changes, step.Err = apply()
	}
}

// guardsItself reports whether a flow table keeps the bridge loop-free on any set
// of tunnels by itself: it never hands a frame to NORMAL (mesh's split horizon).
// Such a table goes in before OVSDB changes the bridge, so that turning STP off
// or adding tunnels never runs under the old NORMAL table, not even briefly.
func guardsItself(flows []topology.Flow) bool {
	for _, f := range flows {
		if slices.Contains(f.Actions, topology.ActionNormal) {
			return false
		}
	}
	return len(flows) > 0
}

// earlyReadWait bounds how long OVSDB waits for the reading a self-guarding table
// is installed from. ovs-vswitchd answers in milliseconds when it is healthy; when it
// does not (ovsdb-server down: the userspace datapath stops answering OpenFlow),
// OVSDB goes first, which changes nothing then anyway.
const earlyReadWait = 2 * time.Second

// steps runs the steps of a pass (see ApplyTopology).
func (r *Reconciler) steps(ctx context.Context, want topology.HostState, dryRun bool) []Step {
	var (
		ovs, bridge, files, fw Step
		wg                     sync.WaitGroup
		read                   FlowTable
		readErr                error
		early                  Step // flows installed before OVSDB (guardsItself)
	)
	readDone, bridgeDone := make(chan struct{}), make(chan struct{})
	rctx, cancelRead := context.WithCancel(ctx)
	defer cancelRead()
	first := !dryRun && guardsItself(want.Flows)
	wg.Go(func() {
		if first {
			select {
			case <-readDone:
			case <-time.After(earlyReadWait):
				first = false // see earlyReadWait
			case <-ctx.Done():
			}
			if first && readErr == nil {
				// Errors wait for the flows step (the bridge may not exist yet).
				run(ctx, &early, StepFlows, func() ([]string, error) { return read.Apply(ctx, want.Flows, false) })
			}
		}
		run(ctx, &ovs, StepOVSDB, func() ([]string, error) { return r.OVS.Apply(ctx, want.OVS, dryRun) })
		if unavailable(ovs.Err) {
			cancelRead() // see the flows step
		}
		run(ctx, &bridge, StepBridge, func() ([]string, error) { return r.Bridge.Apply(ctx, want.Docker, dryRun) })
		close(bridgeDone)
	})
	wg.Go(func() {
		if r.Firewall != nil {
			run(ctx, &fw, StepFirewall, func() ([]string, error) { return r.Firewall.Apply(ctx, want.Firewall, dryRun) })
		}
	})
	wg.Go(func() {
		run(ctx, &files, StepFiles, func() ([]string, error) { return r.files(ctx, want, &bridge, bridgeDone, dryRun) })
	})
	wg.Go(func() { read, readErr = r.Flows.Read(rctx, want.OVS.Bridge); close(readDone) })
	wg.Wait()
	// A table installed early, or a bridge OVSDB changed, needs a new reading.
	reread := len(ovs.Changes) > 0 || len(early.Changes) > 0 || (first && early.Err != nil)
	var flows Step
	run(ctx, &flows, StepFlows, func() ([]string, error) {
		ch, err := r.flows(ctx, want, dryRun, ovs, reread, read, readErr)
		return append(early.Changes, ch...), err
	})
	if r.Firewall == nil {
		return []Step{ovs, bridge, flows, files}
	}
	return []Step{ovs, bridge, flows, files, fw}
}

// errBridgeNotReady is the files step's error while docker0 is not as planned.
var errBridgeNotReady = errors.New("daemon.json not written while the docker bridge is not ready (see the docker0 step)")

// files is the files step. The interfaces file is written at once; daemon.json
// only after the docker0 step, and not while that step fails: a Docker that
// starts (or restarts) with a daemon.json naming a bridge that is not ready builds
// one of its own and keeps it. bridge is read once bridgeDone is closed.
func (r *Reconciler) files(ctx context.Context, want topology.HostState, bridge *Step, bridgeDone <-chan struct{}, dryRun bool) ([]string, error) {
	if dryRun {
		return r.Files.Apply(ctx, want, dryRun)
	}
	held := want
	held.Daemon = topology.DaemonConfig{} // Files leaves daemon.json alone
	changes, err := r.Files.Apply(ctx, held, dryRun)
	select {
	case <-bridgeDone:
	case <-ctx.Done():
		return changes, errors.Join(err, errBridgeNotReady)
	}
	if bridge.Err != nil {
		return changes, errors.Join(err, errBridgeNotReady)
	}
	more, err2 := r.Files.Apply(ctx, want, dryRun)
	return append(changes, more...), errors.Join(err, err2)
}

// flows is the flows step: it installs the table once OVSDB is done.
func (r *Reconciler) flows(ctx context.Context, want topology.HostState, dryRun bool, ovs Step, reread bool, read FlowTable, readErr error) ([]string, error) {
	if unavailable(ovs.Err) {
		// While ovsdb-server is unreachable, ovs-vswitchd may not answer OpenFlow
		// until it is back (the userspace datapath's does not): a dump would
		// hold the pass, and the next pass's repairs, for the whole timeout.
		return nil, errors.New("not checked while ovsdb-server is unreachable")
	}
	if reread {
		read, readErr = r.Flows.Read(ctx, want.OVS.Bridge)
	}
	if readErr != nil {
		return nil, readErr
	}
	return read.Apply(ctx, want.Flows, dryRun)
}

// Once runs one reconcile pass with the topology file at r.Path. An invalid or
// unreadable file changes nothing and is the pass's only error.
func (r *Reconciler) Once(ctx context.Context, dryRun bool) Result {
	start := time.Now()
	t, err := topology.Load(r.Path)
	if err != nil {
		return Result{Host: r.Host, DryRun: dryRun, Duration: time.Since(start),
			Steps: []Step{{Name: StepLoad, Err: err}}}
	}
	res := r.ApplyTopology(ctx, t, dryRun)
	res.Duration = time.Since(start)
	return res
}

// ApplyTopology runs one reconcile pass with an already loaded topology. Every step
// runs even when an earlier one failed (a later step then usually reports why), so
// that one broken subsystem does not keep the others from converging.
//
// The steps that do not depend on each other run at the same time: OVSDB first
// and docker0 after it (OVSDB creates the bridge's internal interface that docker0
// enslaves), the files alongside (but daemon.json only once docker0 is ready), and
// the flow table is read meanwhile. The flows
// are installed once OVSDB is done (it creates the bridge and the tunnel ports the
// flows name), from that reading when OVSDB changed nothing, else from a new one:
// a bridge created or reconfigured by the OVSDB step may hold other flows by then.
// When ovsdb-server cannot be reached, the reading is abandoned and the flows are
// not checked in that pass (see the flows step). A failed OVSDB step that changed
// nothing does not call for a new reading either: while
// ovsdb-server is down, ovs-vswitchd may stop answering OpenFlow for seconds, and a
// second dump would hold the pass (and the next pass's docker0 repair) that long.
// Last, with a Docker adapter, the read-only docker step compares what Docker
// reports of its network with the plan (see Reconciler.docker).
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
	r.links = []string{want.Docker.Name, want.Docker.Port}
	r.linksMu.Unlock()
	if err := r.check(ctx, want); err != nil {
		// Refused: nothing of the plan is applied, not even the files.
		res.Steps = []Step{{Name: StepGuard, Err: err}}
		return res
	}
	res.Steps = r.steps(ctx, want, dryRun)
	if r.Docker != nil {
		var files, docker Step
		for _, s := range res.Steps {
			if s.Name == StepFiles {
				files = s
			}
		}
		run(ctx, &docker, StepDocker, func() ([]string, error) { return nil, r.docker(ctx, want.Docker, files, dryRun) })
		res.Steps = append(res.Steps, docker)
	}
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
