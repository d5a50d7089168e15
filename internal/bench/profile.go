package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ovsmesh/ovsmesh/ifupdown"
	"github.com/ovsmesh/ovsmesh/linuxbridge"
	"github.com/ovsmesh/ovsmesh/openflow"
	"github.com/ovsmesh/ovsmesh/ovsdb"
	"github.com/ovsmesh/ovsmesh/topology"
)

// Names of the parts of an apply, in the order it runs them.
const (
	partStart    = "process start and exit: `ovsmesh version` (fork, exec, Go runtime and package init, cobra)"
	partLoad     = "read, parse and validate the topology file (`topology.Load`)"
	partPlan     = "plan the host (`Desired`: tunnels and flow table)"
	partConnect  = "OVSDB: connect and monitor (libovsdb cache of Bridge, Port, Interface)"
	partOVSDB    = "OVSDB: read the cache and diff"
	partTransact = "OVSDB: the one transaction (sent until ovsdb-server's reply)"
	partWait     = "OVSDB: wait until ovs-vswitchd applied it (cur_cfg), re-read"
	partBridge   = "docker0 (netlink)"
	partOfctl    = "flows: the `ovs-ofctl` processes (dump-flows; when adding, `--bundle add-flow` of every flow)"
	partFlowsGo  = "flows in Go: canonicalize the plan and the dump, diff, write the bundle (go-openvswitch)"
	partFiles    = "files: read, render, write when changed (interfaces, daemon.json)"
	partClose    = "OVSDB: close"
	partPrint    = "print one line per change (through one 64 KiB buffer, as apply does)"
	partSum      = "**sum of the parts**"
	partDumpNS   = "for comparison: the `ovs-ofctl --no-names dump-flows` process Read runs, alone (`--no-stats` takes a slower path in ovs-ofctl 3.1)"
	partAggr     = "for comparison: an `ovs-ofctl dump-aggregate` process (one request, the flow count)"
)

// passKind is the state a profiled pass starts from.
type passKind int

const (
	passFirst passKind = iota // (a): no br0, docker0 or files
	passNoop                  // (d): the converged host
	passFlows                 // (e): converged but for ovsmesh's flows
)

// kindName heads the column of a kind of pass.
var kindName = map[passKind]string{
	passFirst: "(a) first apply",
	passNoop:  "(d) no-op apply",
	passFlows: "(e) flows-only apply",
}

// profile is an apply broken down into parts: the medians of Runs runs.
type profile struct {
	kind  passKind
	parts []part
}

func (p profile) get(name string) []time.Duration {
	for _, pt := range p.parts {
		if pt.name == name {
			return pt.runs
		}
	}
	return nil
}

// captureLog is a slog handler that records the duration the ovsdb package logs
// for its transaction and drops everything else (libovsdb's own messages too).
type captureLog struct {
	transact *time.Duration
	muted    bool
}

func (h captureLog) Enabled(_ context.Context, l slog.Level) bool {
	return !h.muted && l == slog.LevelDebug
}
func (h captureLog) WithAttrs([]slog.Attr) slog.Handler { return captureLog{muted: true} }
func (h captureLog) WithGroup(string) slog.Handler      { return captureLog{muted: true} }
func (h captureLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "applied ovsdb changes" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "duration" {
				*h.transact = a.Value.Duration()
			}
			return true
		})
	}
	return nil
}

// profilePass breaks an apply from the given state down: the process start is
// timed with the binary, everything else in this process with the product's own
// packages, called the way internal/cli calls them, against the same host. This
// process is warm (its heap has grown, its code is paged in), so the parts add up
// to less than a cold process takes: the difference is the price of a cold start.
func (s *session) profilePass(ctx context.Context, m *mesh, kind passKind) (profile, error) {
	prepare := map[passKind]func() error{
		passFirst: func() error { return s.reset(ctx, m) },
		passNoop:  func() error { return nil },
		passFlows: func() error { return s.delFlows(ctx, m) },
	}[kind]
	times := map[string][]time.Duration{}
	add := func(name string, d time.Duration) { times[name] = append(times[name], d) }
	for i := range s.cfg.Runs {
		if err := prepare(); err != nil {
			return profile{}, err
		}
		if err := s.profileOnce(ctx, m, kind, add); err != nil {
			return profile{}, fmt.Errorf("run %d: %w", i+1, err)
		}
		if kind == passNoop {
			if _, d, err := s.ofctl(ctx, "--no-names", "dump-flows", m.bridge(), cookieMatch()+"/-1"); err != nil {
				return profile{}, err
			} else {
				add(partDumpNS, d)
			}
			if _, d, err := s.ofctl(ctx, "dump-aggregate", m.bridge(), cookieMatch()+"/-1"); err != nil {
				return profile{}, err
			} else {
				add(partAggr, d)
			}
		}
	}
	order := []string{partStart, partLoad, partPlan, partConnect, partOVSDB, partTransact, partWait, partBridge,
		partOfctl, partFlowsGo, partFiles, partClose, partPrint}
	p := profile{kind: kind}
	sum := make([]time.Duration, s.cfg.Runs)
	for _, name := range order {
		if times[name] == nil {
			continue
		}
		p.parts = append(p.parts, part{name, times[name]})
		for i, d := range times[name] {
			sum[i] += d
		}
	}
	p.parts = append(p.parts, part{partSum, sum})
	for _, name := range []string{partDumpNS, partAggr} {
		if times[name] != nil {
			p.parts = append(p.parts, part{name, times[name]})
		}
	}
	return p, nil
}

// profileOnce runs one pass in parts and checks it changed what kind says.
func (s *session) profileOnce(ctx context.Context, m *mesh, kind passKind, add func(string, time.Duration)) error {
	var transact time.Duration
	log := slog.New(captureLog{transact: &transact})
	since := func(name string, start time.Time) { add(name, time.Since(start)) }
	changed := 0
	check := func(what string, ch []string, err error, mayChange bool) error {
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if len(ch) > 0 && !mayChange {
			return fmt.Errorf("%s: %d unexpected changes, e.g. %s", what, len(ch), ch[0])
		}
		changed += len(ch)
		return nil
	}

	_, d, err := s.h.run(ctx, s.bin, "version")
	if err != nil {
		return err
	}
	add(partStart, d)

	start := time.Now()
	t, err := topology.Load(s.topoPath(m))
	if err != nil {
		return err
	}
	since(partLoad, start)
	start = time.Now()
	want, err := t.Desired(measuredHost)
	if err != nil {
		return err
	}
	since(partPlan, start)

	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	start = time.Now()
	db, err := ovsdb.Connect(cctx, s.h.DB(), log)
	cancel()
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			db.Close()
		}
	}()
	since(partConnect, start)
	start = time.Now()
	ch, err := db.Apply(ctx, want.OVS, false)
	total := time.Since(start)
	if err := check("ovsdb", ch, err, kind == passFirst); err != nil {
		return err
	}
	if kind == passFirst {
		if transact == 0 {
			return fmt.Errorf("ovsdb: made %d changes but logged no transaction", len(ch))
		}
		add(partTransact, transact)
		add(partWait, total-transact)
	} else {
		add(partOVSDB, total)
	}

	start = time.Now()
	ch, err = linuxbridge.New(s.nl, log).Apply(ctx, want.Docker, false)
	since(partBridge, start)
	if err := check("docker0", ch, err, kind == passFirst); err != nil {
		return err
	}

	runner := &timingRunner{h: s.h}
	start = time.Now()
	ch, err = openflow.New(want.OVS.Bridge, log, openflow.WithRunner(runner)).Apply(ctx, want.Flows, false)
	total = time.Since(start)
	if err := check("flows", ch, err, kind != passNoop); err != nil {
		return err
	}
	if kind != passNoop && len(ch) != len(want.Flows) {
		return fmt.Errorf("flows: %d changes, want %d", len(ch), len(want.Flows))
	}
	add(partOfctl, runner.total)
	add(partFlowsGo, total-runner.total)

	start = time.Now()
	files := &ifupdown.Files{Interfaces: s.interfaces(), DaemonJSON: s.daemonJSON(), Log: log}
	ch, err = files.Apply(ctx, want, false)
	since(partFiles, start)
	if err := check("files", ch, err, kind == passFirst); err != nil {
		return err
	}
	start = time.Now()
	db.Close()
	closed = true
	since(partClose, start)

	if kind != passNoop {
		d, err := printLines(changed)
		if err != nil {
			return err
		}
		add(partPrint, d)
	}
	return nil
}

// printLines times what apply does with its changes: one fmt.Fprintf per line into
// a 64 KiB buffer over stdout that is a pipe (here one whose reader drains it).
func printLines(n int) (time.Duration, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, r)
		r.Close()
		close(done)
	}()
	start := time.Now()
	bw := bufio.NewWriterSize(w, 64<<10)
	for i := range n {
		fmt.Fprintf(bw, "%-8s %s\n", "openflow:", fmt.Sprintf("add flow table=1,priority=100,arp,arp_tpa=10.0.%d.%d,actions=output:%d", i>>8, i&255, 32768+i))
	}
	err = bw.Flush()
	d := time.Since(start)
	w.Close()
	<-done
	return d, err
}
