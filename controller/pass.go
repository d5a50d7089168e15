package controller

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// pass is one reconcile pass that the Guard let go on: its steps, and what one
// step hands another. Every step runs even when another one failed. Its phases
// (see run):
//
//   - readTable reads the flow table while OVSDB is brought to the plan;
//     applyOVSDB abandons that reading when ovsdb-server cannot be reached. A
//     self-guarding table that changes is installed from the last
//     verification instead (see readTable).
//   - installSelfGuarding puts a table that keeps the bridge loop-free by itself
//     (guardsItself) in before OVSDB changes the bridge.
//   - applyOVSDB, then applyDocker0: OVSDB creates the bridge's internal
//     interface that docker0 enslaves. When OVSDB creates the bridge, a
//     self-guarding table goes in as soon as the bridge exists, beside the
//     rest of OVSDB's step (installCreated).
//   - writeFiles writes the interfaces file at once and daemon.json only once
//     the docker0 step succeeded.
//   - applyFirewall keeps the host firewall's table.
//   - installFlows, once all of the above are done (OVSDB creates the bridge and
//     the tunnel ports the flows name): from the early reading when neither OVSDB
//     nor the early install changed the bridge and it was a reading, else from
//     a new one.
//   - applyIdentity keeps the per-container identity table (identity.go).
//   - compareDocker, last: the read-only docker step (see Reconciler.docker).
type pass struct {
	r      *Reconciler
	want   topology.HostState
	dryRun bool
	// ovsDown says the Guard found ovsdb-server unreachable (see check).
	ovsDown bool

	ovs, bridge, flows, files, firewall, identity, docker Step
	networks                                              Step // see applyNetworks
	// early is the self-guarding table's install; the flows step reports it.
	early Step

	// table and tableErr are readTable's reading, set once read is closed;
	// predicted says table is the Flows' last verification, not a reading.
	table     FlowTable
	tableErr  error
	predicted bool
	read      chan struct{}
	abandon   context.CancelFunc // ends readTable's reading
	// created is the reading's Created, set once readTable is done.
	created FlowTable
	// after and afterErr are the reading taken right after the early install
	// changed the table, beside OVSDB (see readAfterEarly); earlyDone is closed
	// once installSelfGuarding is done.
	after     FlowTable
	afterErr  error
	earlyDone chan struct{}
	// bridgeDone is closed once the docker0 step is done.
	bridgeDone chan struct{}
	// readDone is closed once readTable is done, created included.
	readDone chan struct{}
	// fresh is the install of the created table beside OVSDB (installCreated),
	// started when freshStarted; freshDone is closed once it is done.
	fresh        Step
	freshStarted bool
	freshDone    chan struct{}
}

func (r *Reconciler) newPass(want topology.HostState, dryRun bool) *pass {
	return &pass{r: r, want: want, dryRun: dryRun, read: make(chan struct{}), bridgeDone: make(chan struct{}), earlyDone: make(chan struct{}),
		readDone: make(chan struct{}), freshDone: make(chan struct{})}
}

// run runs the phases and returns the steps in the order a pass reports them.
// The lines below run at the same time, the phases on one line in turn:
//
//	readTable
//	installSelfGuarding, applyOVSDB, applyDocker0
//	readAfterEarly (once installSelfGuarding is done)
//	writeFiles
//	applyFirewall
//
// and once all are done: installFlows, applyIdentity, compareDocker.
func (p *pass) run(ctx context.Context) []Step {
	rctx, abandon := context.WithCancel(ctx)
	defer abandon()
	p.abandon = abandon
	var wg sync.WaitGroup
	wg.Go(func() { p.installSelfGuarding(ctx); p.applyOVSDB(ctx, rctx); p.applyDocker0(ctx) })
	wg.Go(func() { p.applyFirewall(ctx) })
	wg.Go(func() { p.writeFiles(ctx) })
	wg.Go(func() { p.readTable(rctx) })
	wg.Go(func() { p.readAfterEarly(rctx) })
	wg.Wait()
	p.applyNetworks(ctx)
	p.installFlows(ctx)
	p.applyIdentity(ctx)
	p.compareDocker(ctx)
	steps := []Step{p.ovs, p.bridge, p.flows, p.files}
	if p.r.Firewall != nil {
		steps = append(steps, p.firewall)
	}
	if p.r.DockerNetworks != nil {
		steps = append(steps, p.networks)
	}
	if p.r.Identity != nil {
		steps = append(steps, p.identity)
	}
	if p.r.Docker != nil {
		steps = append(steps, p.docker)
	}
	return steps
}

// run runs one step unless the pass is abandoned.
func run(ctx context.Context, step *Step, name string, apply func() ([]string, error)) {
	step.Name = name
	if step.Err = ctx.Err(); step.Err == nil {
		step.Changes, step.Err = apply()
	}
}

// readTable reads the flow table, for installSelfGuarding and installFlows. A
// self-guarding table that differs from the one the Flows last verified (a peer
// added or removed) is installed from that verification instead, when the Flows
// is a Predictor that still trusts it: the bundle goes in without a read before
// it, and installFlows reads the table after it (one count), as after any early
// install, which finds and repairs in the same pass what drifted since. A
// reading of a bridge that does not exist then computes the bundle the bridge
// gets once OVSDB creates it (see Creator), while OVSDB does.
func (p *pass) readTable(ctx context.Context) {
	defer close(p.readDone)
	if pr, ok := p.r.Flows.(Predictor); ok && !p.dryRun && guardsItself(p.want.Flows) {
		if t := pr.Predicted(p.want.OVS.Bridge, p.want.Flows); t != nil {
			p.table, p.predicted = t, true
			close(p.read)
			return
		}
	}
	p.table, p.tableErr = p.r.Flows.Read(ctx, p.want.OVS.Bridge)
	close(p.read)
	if c, ok := p.table.(Creator); ok && !p.dryRun {
		p.created = c.Created(p.want.Flows)
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

// installSelfGuarding installs a self-guarding table (not in a dry run) from
// readTable's reading, waiting for it at most earlyReadWait. Its changes and
// errors go to the flows step: the bridge may not exist yet. Not while the Guard
// found ovsdb-server unreachable: OVSDB changes nothing then, so nothing needs
// the table before it, and the wait for a reading ovs-vswitchd does not give
// then (see earlyReadWait) would hold docker0's repair that long.
func (p *pass) installSelfGuarding(ctx context.Context) {
	defer close(p.earlyDone)
	if p.dryRun || p.ovsDown || !guardsItself(p.want.Flows) {
		return
	}
	select {
	case <-p.read:
	case <-time.After(earlyReadWait):
		return // see earlyReadWait
	case <-ctx.Done():
		return // abandoned: every later step says so
	}
	if p.tableErr != nil {
		return
	}
	actx := ctx
	if p.predicted {
		// Nothing read ovs-vswitchd before this bundle: when it does not
		// answer (ovsdb-server down), OVSDB goes first after earlyReadWait, as
		// after a read that did not come back.
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, earlyReadWait)
		defer cancel()
	}
	run(ctx, &p.early, StepFlows, func() ([]string, error) { return p.table.Apply(actx, p.want.Flows, false) })
}

// readAfterEarly reads the table again once the early install changed it, while
// OVSDB changes the bridge: when OVSDB only changes ports, which leaves the flows
// alone (see flowsKept), that reading is the flows step's, and the pass that
// adds or removes a peer waits for its count beside OVSDB, not after it. It finds
// and repairs in the same pass what drifted since the table was last verified.
func (p *pass) readAfterEarly(ctx context.Context) {
	select {
	case <-p.earlyDone:
	case <-ctx.Done():
		return
	}
	if p.early.Err == nil && len(p.early.Changes) > 0 {
		p.after, p.afterErr = p.r.Flows.Read(ctx, p.want.OVS.Bridge)
	}
}

// applyOVSDB is the OVSDB step. A self-guarding table goes in beside OVSDB's
// ports when OVSDB creates the bridge (see BridgeFirst and installCreated).
func (p *pass) applyOVSDB(ctx, rctx context.Context) {
	run(ctx, &p.ovs, StepOVSDB, func() ([]string, error) {
		if bf, ok := p.r.OVS.(BridgeFirst); ok && !p.dryRun && guardsItself(p.want.Flows) {
			return bf.ApplyBridgeFirst(ctx, p.want.OVS, func() { p.installCreated(rctx) })
		}
		return p.r.OVS.Apply(ctx, p.want.OVS, p.dryRun)
	})
	if unavailable(p.ovs.Err) {
		p.abandon() // see installFlows
	}
}

// installCreated starts installing the table of the bridge OVSDB has just
// created, alone, from readTable's reading as created (see Creator): its
// bundle goes in while OVSDB adds the tunnels, which leaves flows alone (see
// flowsKept), and installFlows takes its changes without a reading. When the
// reading found the bridge after all (it was read once OVSDB had made it), or
// the install fails, installFlows reads the table. ctx is the one an
// unreachable ovsdb-server abandons.
func (p *pass) installCreated(ctx context.Context) {
	p.freshStarted = true
	go func() {
		defer close(p.freshDone)
		select {
		case <-p.readDone:
		case <-ctx.Done():
			return
		}
		if p.created != nil {
			run(ctx, &p.fresh, StepFlows, func() ([]string, error) { return p.created.Apply(ctx, p.want.Flows, false) })
		}
	}()
}

// applyDocker0 is the docker0 step.
func (p *pass) applyDocker0(ctx context.Context) {
	run(ctx, &p.bridge, StepBridge, func() ([]string, error) { return p.r.Bridge.Apply(ctx, p.want.Docker, p.dryRun) })
	close(p.bridgeDone)
}

// applyFirewall is the firewall step; a Reconciler without a Firewall has none.
func (p *pass) applyFirewall(ctx context.Context) {
	if p.r.Firewall != nil {
		run(ctx, &p.firewall, StepFirewall, func() ([]string, error) { return p.r.Firewall.Apply(ctx, p.want.Firewall, p.dryRun) })
	}
}

// errBridgeNotReady is the files step's error while docker0 is not as planned.
var errBridgeNotReady = errors.New("daemon.json not written while the docker bridge is not ready (see the docker0 step)")

// writeFiles is the files step. The interfaces file is written at once;
// daemon.json only after the docker0 step, and not while that step fails: a
// Docker that starts (or restarts) with a daemon.json naming a bridge that is not
// ready builds one of its own and keeps it.
func (p *pass) writeFiles(ctx context.Context) {
	run(ctx, &p.files, StepFiles, func() ([]string, error) {
		if p.dryRun {
			return p.r.Files.Apply(ctx, p.want, p.dryRun)
		}
		held := p.want
		held.Daemon = topology.DaemonConfig{} // Files leaves daemon.json alone
		changes, err := p.r.Files.Apply(ctx, held, p.dryRun)
		select {
		case <-p.bridgeDone:
		case <-ctx.Done():
			return changes, errors.Join(err, errBridgeNotReady)
		}
		if p.bridge.Err != nil {
			return changes, errors.Join(err, errBridgeNotReady)
		}
		more, err2 := p.r.Files.Apply(ctx, p.want, p.dryRun)
		return append(changes, more...), errors.Join(err, err2)
	})
}

// installFlows is the flows step. A table installed early, or a bridge OVSDB
// changed, needs a new reading: a bridge reconfigured by OVSDB may hold other
// flows by then. Changes to ports alone do not (see flowsKept): the reading
// beside OVSDB stands, or the one after the early install (readAfterEarly).
// A failed OVSDB step that changed nothing does not either: while
// ovsdb-server is down, ovs-vswitchd may stop answering OpenFlow for seconds, and
// a second dump would hold the pass (and the next pass's docker0 repair) that
// long. While ovsdb-server is unreachable the flows are not checked at all. A
// bridge that did not exist when read, and that OVSDB created, holds none of
// ours: the table goes in from the reading as created (see Creator), whose
// bundle was computed while OVSDB worked; at 1000 hosts a host's first pass
// saves a dump and 35 ms of CPU.
func (p *pass) installFlows(ctx context.Context) {
	run(ctx, &p.flows, StepFlows, func() ([]string, error) {
		done := p.early.Changes
		if p.freshStarted {
			<-p.freshDone
			if p.fresh.Name != "" && p.fresh.Err == nil {
				if done = append(done, p.fresh.Changes...); p.ovs.Err == nil {
					return done, nil
				}
			}
		}
		if unavailable(p.ovs.Err) {
			// ovs-vswitchd may not answer OpenFlow until ovsdb-server is back
			// (the userspace datapath's does not): a dump would hold the pass,
			// and the next pass's repairs, for the whole timeout.
			return done, errors.New("not checked while ovsdb-server is unreachable")
		}
		table, err := p.table, p.tableErr
		unchanged := len(p.ovs.Changes) == 0
		portsOnly := !unchanged && p.ovs.Err == nil && flowsKept(p.ovs.Changes)
		switch {
		case p.freshStarted:
			table, err = p.r.Flows.Read(ctx, p.want.OVS.Bridge) // see installCreated
		case p.created != nil && p.ovs.Err == nil && createdBridge(p.ovs.Changes, p.want.OVS.Bridge):
			table = p.created
		case (unchanged || portsOnly && p.tableErr == nil) && len(p.early.Changes) == 0 && p.early.Err == nil && !p.predicted:
			// the reading beside OVSDB (a failed one is read again after a change)
		case (unchanged || portsOnly) && p.after != nil && p.afterErr == nil:
			table = p.after
		default:
			table, err = p.r.Flows.Read(ctx, p.want.OVS.Bridge)
		}
		if err != nil {
			return done, err
		}
		changes, err := table.Apply(ctx, p.want.Flows, p.dryRun)
		return append(done, changes...), err
	})
}

// portChanges are how OVS's lines about ports and interfaces begin (see OVS).
var portChanges = []string{"create port ", "create interface ", "recreate port ", "delete port ", "update port ", "update interface "}

// flowsKept says whether OVSDB's changes only changed ports and interfaces, which
// leaves the flow table as it was: flows name ports by number, and Open vSwitch
// deletes none when a port goes, nor when one is added or reconfigured.
func flowsKept(changes []string) bool {
	for _, c := range changes {
		if !slices.ContainsFunc(portChanges, func(p string) bool { return strings.HasPrefix(c, p) }) {
			return false
		}
	}
	return true
}

// createdBridge says whether OVSDB's changes created the bridge (see OVS).
func createdBridge(changes []string, bridge string) bool {
	return slices.ContainsFunc(changes, func(c string) bool {
		rest, ok := strings.CutPrefix(c, "create bridge "+bridge)
		return ok && (rest == "" || rest[0] == ' ')
	})
}

// compareDocker is the read-only docker step; a Reconciler without a Docker
// adapter has none.
func (p *pass) compareDocker(ctx context.Context) {
	if p.r.Docker != nil {
		run(ctx, &p.docker, StepDocker, func() ([]string, error) { return nil, p.r.docker(ctx, p.want.Docker, p.files, p.dryRun) })
	}
}
