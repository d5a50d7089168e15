package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/internal/adapters"
	"github.com/ovsmesh/ovsmesh/openflow"
	"github.com/ovsmesh/ovsmesh/ovsdb"
	"github.com/ovsmesh/ovsmesh/topology"
)

// Steps of a pass, as the loop bench times them (each step's wall time; some run
// side by side).
const (
	stepOVSDB     = "OVSDB step: read the cache, diff, transact, wait for ovs-vswitchd"
	stepFlowRead  = "flow step: read (`ovs-ofctl dump-flows` + canonicalize, or `dump-aggregate` of a verified table)"
	stepFlowApply = "flow step: diff and bundle (`ovs-ofctl --bundle`)"
	stepOfctl     = "of which `ovs-ofctl` processes (wall, summed)"
	stepBridge    = "docker0 step (netlink)"
	stepFiles     = "files step (interfaces, daemon.json)"
	// stepOps holds counts, not times: the OVSDB operations a pass sent.
	stepOps = "OVSDB operations sent (Apply's transactions: a first pass's two, the bridge's and the tunnels')"
)

var stepOrder = []string{stepOVSDB, stepFlowRead, stepFlowApply, stepOfctl, stepBridge, stepFiles}

// stepTimer adds up each step's wall time within one pass.
type stepTimer struct {
	mu    sync.Mutex
	times loopTimes
}

func (t *stepTimer) since(step string, start time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := time.Since(start)
	if prev := t.times[step]; len(prev) > 0 {
		prev[0] += d
		return
	}
	t.times[step] = []time.Duration{d}
}

func (t *stepTimer) reset() { t.mu.Lock(); t.times = loopTimes{}; t.mu.Unlock() }

func (t *stepTimer) snapshot() loopTimes {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := loopTimes{}
	for k, v := range t.times {
		out[k] = append([]time.Duration(nil), v...)
	}
	return out
}

type timedOVS struct {
	db *ovsdb.Client
	st *stepTimer
}

func (o timedOVS) Apply(ctx context.Context, want topology.OVSState, dryRun bool) ([]string, error) {
	defer o.st.since(stepOVSDB, time.Now())
	return o.db.Apply(ctx, want, dryRun)
}

// ApplyBridgeFirst is the client's, as the loop has it (controller.BridgeFirst).
func (o timedOVS) ApplyBridgeFirst(ctx context.Context, want topology.OVSState, created func()) ([]string, error) {
	defer o.st.since(stepOVSDB, time.Now())
	return o.db.ApplyBridgeFirst(ctx, want, created)
}

type timedBridge struct {
	b  controller.Bridge
	st *stepTimer
}

func (b timedBridge) Apply(ctx context.Context, want topology.DockerBridge, dryRun bool) ([]string, error) {
	defer b.st.since(stepBridge, time.Now())
	return b.b.Apply(ctx, want, dryRun)
}

type timedFiles struct {
	f  controller.Files
	st *stepTimer
}

func (f timedFiles) Apply(ctx context.Context, want topology.HostState, dryRun bool) ([]string, error) {
	defer f.st.since(stepFiles, time.Now())
	return f.f.Apply(ctx, want, dryRun)
}

// timedFlows reads the flow table as the CLI's adapter does: one Table for the
// bridge, kept from pass to pass.
type timedFlows struct {
	runner openflow.Runner
	rundir string // the lab host's, where ovs-vswitchd's sockets are
	log    *slog.Logger
	st     *stepTimer
	mu     sync.Mutex
	table  *openflow.Table
}

func (f *timedFlows) Read(ctx context.Context, bridge string) (controller.FlowTable, error) {
	defer f.st.since(stepFlowRead, time.Now())
	f.mu.Lock()
	if f.table == nil {
		f.table = openflow.New(bridge, f.log, openflow.WithRunner(f.runner), openflow.WithFullCheckEvery(adapters.FullFlowCheck),
			openflow.WithDirectCount(f.rundir))
	}
	t := f.table
	f.mu.Unlock()
	r, err := t.Read(ctx)
	if err != nil {
		return nil, err
	}
	return timedTable{r, f.st}, nil
}

// Predicted is the product's prediction (adapters.FlowTables.Predicted), timed
// as part of the apply it is used for.
func (f *timedFlows) Predicted(bridge string, want []topology.Flow) controller.FlowTable {
	f.mu.Lock()
	t := f.table
	f.mu.Unlock()
	if t == nil {
		return nil
	}
	if r := t.Predicted(want); r != nil {
		return timedTable{r, f.st}
	}
	return nil
}

type timedTable struct {
	t  controller.FlowTable
	st *stepTimer
}

func (t timedTable) Apply(ctx context.Context, want []topology.Flow, dryRun bool) ([]string, error) {
	defer t.st.since(stepFlowApply, time.Now())
	return t.t.Apply(ctx, want, dryRun)
}

// Created is the product's reading as created, timed as part of its apply.
func (t timedTable) Created(want []topology.Flow) controller.FlowTable {
	if r, ok := t.t.(*openflow.Reading); ok {
		if c := r.Created(want); c != nil {
			return timedTable{c, t.st}
		}
	}
	return nil
}

// reportLoop prints the loop bench's markdown: one column per kind of pass.
func reportLoop(w io.Writer, m machine, cfg LoopConfig, times map[string]loopTimes) {
	fmt.Fprintf(w, "Machine: %d CPUs (%s), %s, Open vSwitch %s, %s. Load average %s at the start, %s at the end.\n\n",
		m.cpus, m.model, m.kernel, m.ovs, m.goVersion, m.loadStart, m.loadEnd)
	fmt.Fprintf(w, "Loop passes at N = %d (%d tunnels), medians of %d runs (min–max):\n\n", cfg.N, cfg.N-1, cfg.Runs)
	fmt.Fprintf(w, "| part | %s |\n|---|%s\n", strings.Join(loopKinds, " | "), strings.Repeat("---|", len(loopKinds)))
	row := func(name, key string) {
		cells := make([]string, len(loopKinds))
		for i, k := range loopKinds {
			cells[i] = shortCell(times[k][key])
		}
		fmt.Fprintf(w, "| %s | %s |\n", name, strings.Join(cells, " | "))
	}
	for _, st := range stepOrder {
		row(st, st)
	}
	row("**whole pass** (`ApplyTopology`)", "pass")
	ops := make([]string, len(loopKinds))
	for i, k := range loopKinds {
		if ds := times[k][stepOps]; len(ds) > 0 {
			ops[i] = fmt.Sprintf("%d–%d", int64(minDur(ds)), int64(maxDur(ds)))
		}
	}
	fmt.Fprintf(w, "| %s | %s |\n", stepOps, strings.Join(ops, " | "))
	row("floor, timed just before each pass: `ovs-vsctl add-port` of one GRE port on the same bridge (adding) / `ovs-vsctl del-port` of it (removing)", "floor")
	ratios := make([]string, len(loopKinds))
	for i, k := range loopKinds {
		ratios[i] = ratioCell(times[k]["pass"], times[k]["floor"])
	}
	fmt.Fprintf(w, "| pass / floor, run by run: median (min–max) | %s |\n", strings.Join(ratios, " | "))
	fmt.Fprintln(w)
	for _, f := range []string{loopCompile, floorBulk, floorBundle} {
		fmt.Fprintf(w, "- %s: %s\n", f, shortCell(times[f]["pass"]))
	}
	fmt.Fprintf(w, "\nFirst pass / (bulk ovs-vsctl + bundle), medians: %.2f\n",
		float64(median(times[loopFirst]["pass"]))/float64(median(times[floorBulk]["pass"])+median(times[floorBundle]["pass"])))
}

// ratioCell is the median and spread of a/b run by run.
func ratioCell(a, b []time.Duration) string {
	if len(a) == 0 || len(a) != len(b) {
		return "–"
	}
	r := make([]float64, len(a))
	for i := range a {
		r[i] = float64(a[i]) / float64(b[i])
	}
	slices.Sort(r)
	mid := r[len(r)/2]
	if len(r)%2 == 0 {
		mid = (r[len(r)/2-1] + r[len(r)/2]) / 2
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", mid, r[0], r[len(r)-1])
}

// shortCell is a median with its spread.
func shortCell(ds []time.Duration) string {
	if len(ds) == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%s–%s)", fmtDur(median(ds)), fmtDur(minDur(ds)), fmtDur(maxDur(ds)))
}

func minDur(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = min(m, d)
	}
	return m
}

func maxDur(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
