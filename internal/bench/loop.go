package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/ifupdown"
	"github.com/ovsmesh/ovsmesh/linuxbridge"
	"github.com/ovsmesh/ovsmesh/ovsdb"
	"github.com/ovsmesh/ovsmesh/topology"
)

// LoopConfig is what RunLoop needs.
type LoopConfig struct {
	N    int // mesh size: the passes add and remove host N
	Runs int
	// ProfileDir receives one CPU profile (go tool pprof) per kind of pass, all
	// its runs together; "" for none.
	ProfileDir string
	Progress   io.Writer
}

// Kinds of loop pass, in the order RunLoop measures them.
const (
	loopFirst  = "first pass (no br0, docker0 or files)"
	loopAdd    = "pass that adds one peer"
	loopRemove = "pass that removes one peer"
	loopSteady = "steady pass (nothing to change)"
)

var loopKinds = []string{loopFirst, loopAdd, loopRemove, loopSteady}

// Floors measured in the same run, and the loop's own file load.
const (
	floorBulk   = "floor: one bulk `ovs-vsctl` creating br0 and every tunnel"
	floorBundle = "floor: `ovs-ofctl --bundle add-flows` of the whole table"
	loopCompile = "the loop's load of the topology file (`topology.Compile`, every pass)"
)

// loopTimes are the wall times of one kind of pass: the whole pass and each step
// (steps run side by side; see controller's pass).
type loopTimes map[string][]time.Duration

// RunLoop plays one host of an N-host GRE mesh in a lab host and times the
// reconcile loop's passes the way `ovsmesh apply --interval` runs them: one
// Reconciler with one OVSDB client whose cache a monitor keeps, the passes called
// in this process (so that a CPU profile covers them) with the product's adapters.
// The host firewall and Docker steps are left out (they would act outside the
// lab); the floors are measured in the same run.
func RunLoop(ctx context.Context, cfg LoopConfig, w io.Writer) error {
	if cfg.N < 3 || cfg.Runs < 1 {
		return fmt.Errorf("bench loop: want N ≥ 3 and at least one run (N %d, runs %d)", cfg.N, cfg.Runs)
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	full, err := newMesh(cfg.N)
	if err != nil {
		return err
	}
	less, err := newMesh(cfg.N - 1)
	if err != nil {
		return err
	}
	m, err := describeMachine(context.Background())
	if err != nil {
		return err
	}
	times := map[string]loopTimes{}
	err = withSession(ctx, Config{Runs: cfg.Runs, Progress: cfg.Progress}, "", func(s *session) error {
		return s.loopPasses(ctx, cfg, full, less, times)
	})
	if err != nil {
		return err
	}
	m.loadEnd, _ = loadAvg()
	reportLoop(w, m, cfg, times)
	return nil
}

// loopPasses measures every kind of pass, then the floors.
func (s *session) loopPasses(ctx context.Context, cfg LoopConfig, full, less *mesh, times map[string]loopTimes) error {
	for _, m := range []*mesh{full, less} {
		if err := os.WriteFile(s.topoPath(m), m.yaml, 0o644); err != nil {
			return err
		}
	}
	tFull, err := topology.Compile(s.topoPath(full), full.yaml)
	if err != nil {
		return err
	}
	tLess, err := topology.Compile(s.topoPath(less), less.yaml)
	if err != nil {
		return err
	}
	lp, err := s.newLoopPasser(ctx, cfg)
	if err != nil {
		return err
	}
	defer lp.close()
	type kind struct {
		name    string
		prepare func() error
		floor   func() (time.Duration, error) // timed after prepare, before the pass
		t       *topology.Topology
		changes bool
	}
	converge := func(t *topology.Topology) func() error { return func() error { return lp.converge(ctx, t) } }
	floorPort := topology.Tunnel{Name: "gre-floor", Type: "gre", RemoteIP: hostAddr(cfg.N + 1), OFPort: 65000}
	addPort := func() (time.Duration, error) {
		_, d, err := s.vsctl(ctx, full.addPort(floorPort)...)
		return d, err
	}
	delPort := func() (time.Duration, error) {
		_, d, err := s.vsctl(ctx, "del-port", full.bridge(), floorPort.Name)
		return d, err
	}
	kinds := []kind{
		{loopFirst, func() error { return s.reset(ctx, full) }, nil, tFull, true},
		{loopAdd, converge(tLess), func() (time.Duration, error) {
			d, err := addPort()
			if err == nil {
				_, err = delPort()
			}
			return d, err
		}, tFull, true},
		{loopRemove, converge(tFull), func() (time.Duration, error) {
			if _, err := addPort(); err != nil {
				return 0, err
			}
			return delPort()
		}, tLess, true},
		{loopSteady, converge(tFull), nil, tFull, false},
	}
	for _, k := range kinds {
		lt, err := lp.measure(ctx, k.name, k.prepare, k.floor, k.t, k.changes)
		if err != nil {
			return fmt.Errorf("%s: %w", k.name, err)
		}
		times[k.name] = lt
	}
	compile := loopTimes{}
	for range cfg.Runs {
		start := time.Now()
		if _, err := topology.Compile(s.topoPath(full), full.yaml); err != nil {
			return err
		}
		compile["pass"] = append(compile["pass"], time.Since(start))
	}
	times[loopCompile] = compile
	return s.loopFloors(ctx, full, times)
}

// loopFloors times what Open vSwitch's own tools need for the same changes.
func (s *session) loopFloors(ctx context.Context, full *mesh, times map[string]loopTimes) error {
	if err := os.WriteFile(s.flowsPath(full), []byte(strings.Join(full.flowLines(), "\n")+"\n"), 0o644); err != nil {
		return err
	}
	r := &result{}
	if err := s.bulkVsctl(ctx, full, r); err != nil {
		return err
	}
	times[floorBulk] = loopTimes{"pass": r.bulk}
	bundle, err := s.repeat(ctx, "ovs-ofctl --bundle add-flows", func() error { return s.delFlows(ctx, full) }, func() (time.Duration, error) {
		_, d, err := s.ofctl(ctx, "--bundle", "add-flows", full.bridge(), s.flowsPath(full))
		return d, err
	})
	times[floorBundle] = loopTimes{"pass": bundle}
	return err
}

// loopPasser runs passes through one Reconciler, as the loop does.
type loopPasser struct {
	s      *session
	cfg    LoopConfig
	db     *ovsdb.Client
	r      *controller.Reconciler
	timer  *stepTimer
	runner *lockedRunner
	ops    *opsLog
}

func (s *session) newLoopPasser(ctx context.Context, cfg LoopConfig) (*loopPasser, error) {
	ops := &opsLog{}
	log := slog.New(ops)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db, err := ovsdb.Connect(cctx, s.h.DB(), log)
	if err != nil {
		return nil, err
	}
	st := &stepTimer{times: loopTimes{}}
	runner := &lockedRunner{h: s.h}
	r := &controller.Reconciler{
		Host:   measuredHost,
		OVS:    timedOVS{db, st},
		Bridge: timedBridge{linuxbridge.New(s.nl, log), st},
		Flows:  &timedFlows{runner: runner, rundir: s.h.RunDir, log: log, st: st},
		Files:  timedFiles{&ifupdown.Files{Interfaces: s.interfaces(), DaemonJSON: s.daemonJSON(), Log: log}, st},
		Log:    log,
	}
	return &loopPasser{s: s, cfg: cfg, db: db, r: r, timer: st, runner: runner, ops: ops}, nil
}

func (lp *loopPasser) close() { lp.db.Close() }

// converge runs passes until one changes nothing.
func (lp *loopPasser) converge(ctx context.Context, t *topology.Topology) error {
	for range 3 {
		res := lp.r.ApplyTopology(ctx, t, false)
		if err := res.Err(); err != nil {
			return err
		}
		if !res.Changed() {
			return nil
		}
	}
	return fmt.Errorf("not converged after 3 passes")
}

// measure times Runs passes of one kind, each after prepare and, when given, its
// floor (what Open vSwitch's own tool needs for the same change, timed just
// before the pass), each pass under its own CPU profile.
func (lp *loopPasser) measure(ctx context.Context, name string, prepare func() error, floor func() (time.Duration, error),
	t *topology.Topology, changes bool) (loopTimes, error) {
	all := loopTimes{}
	for i := range lp.cfg.Runs {
		if err := prepare(); err != nil {
			return nil, fmt.Errorf("prepare run %d: %w", i+1, err)
		}
		if floor != nil {
			d, err := floor()
			if err != nil {
				return nil, fmt.Errorf("floor of run %d: %w", i+1, err)
			}
			all["floor"] = append(all["floor"], d)
		}
		lp.timer.reset()
		lp.runner.reset()
		lp.ops.reset()
		stop, err := lp.startProfile(name, i)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		res := lp.r.ApplyTopology(ctx, t, false)
		d := time.Since(start)
		if err := stop(); err != nil {
			return nil, err
		}
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("run %d: %w", i+1, err)
		}
		if res.Changed() != changes {
			return nil, fmt.Errorf("run %d: changed %v, want %v: %s", i+1, res.Changed(), changes, res)
		}
		all["pass"] = append(all["pass"], d)
		for k, v := range lp.timer.snapshot() {
			all[k] = append(all[k], v...)
		}
		all[stepOfctl] = append(all[stepOfctl], lp.runner.total())
		all[stepOps] = append(all[stepOps], time.Duration(lp.ops.count()))
		fmt.Fprintf(lp.s.cfg.Progress, "   %s: run %d: %s (%s)\n", name, i+1, fmtDur(d), res)
	}
	return all, nil
}

// startProfile starts the CPU profile of one run of a kind (none without
// ProfileDir) and returns what stops it. `go tool pprof` merges the runs' files.
func (lp *loopPasser) startProfile(kind string, run int) (func() error, error) {
	if lp.cfg.ProfileDir == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(filepath.Join(lp.cfg.ProfileDir, fmt.Sprintf("%s-%d.pprof", profileName(kind), run+1)))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error { pprof.StopCPUProfile(); return f.Close() }, nil
}

// profileName names the CPU profiles of a kind of pass.
func profileName(kind string) string {
	switch kind {
	case loopFirst:
		return "first"
	case loopAdd:
		return "add"
	case loopRemove:
		return "remove"
	}
	return "steady"
}

// lockedRunner runs ovs-ofctl in the lab host and adds up the processes' wall time.
type lockedRunner struct {
	h   *nsHost
	mu  sync.Mutex
	sum time.Duration
}

func (r *lockedRunner) Run(ctx context.Context, stdin io.Reader, name string, args ...string) ([]byte, error) {
	out, d, err := r.h.runIn(ctx, nil, stdin, append([]string{name}, args...)...)
	r.mu.Lock()
	r.sum += d
	r.mu.Unlock()
	return []byte(out), err
}

func (r *lockedRunner) total() time.Duration { r.mu.Lock(); defer r.mu.Unlock(); return r.sum }
func (r *lockedRunner) reset()               { r.mu.Lock(); r.sum = 0; r.mu.Unlock() }

// opsLog is a slog handler that counts the operations of the OVSDB transactions
// the ovsdb package logs (at debug) and drops every other record.
type opsLog struct {
	mu  sync.Mutex
	ops int64
}

func (h *opsLog) Enabled(_ context.Context, l slog.Level) bool { return l == slog.LevelDebug }
func (h *opsLog) WithAttrs([]slog.Attr) slog.Handler           { return slog.DiscardHandler }
func (h *opsLog) WithGroup(string) slog.Handler                { return slog.DiscardHandler }
func (h *opsLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "applied ovsdb changes" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "operations" {
			h.mu.Lock()
			h.ops += a.Value.Int64()
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h *opsLog) reset()       { h.mu.Lock(); h.ops = 0; h.mu.Unlock() }
func (h *opsLog) count() int64 { h.mu.Lock(); defer h.mu.Unlock(); return h.ops }
