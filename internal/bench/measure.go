package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
)

// result holds the runs of every case for one mesh size.
type result struct {
	n, tunnels, flows int

	first     []time.Duration // (a) first apply from no bridge
	perPort   []time.Duration // (b) add-br, then one ovs-vsctl per tunnel
	bulk      []time.Duration // (c) one ovs-vsctl for the bridge and every tunnel
	noop      []time.Duration // (d) apply on the converged host
	noopPass  []time.Duration // (d) the pass time apply prints in its summary
	flowApply []time.Duration // (e) apply that only installs the flow table
	bundle    []time.Duration // (e) ovs-ofctl --bundle add-flows
	perFlow   []time.Duration // (e) perFlowN ovs-ofctl add-flow processes
	perFlowN  int

	noopLine      string // the summary line of the last timed no-op apply
	noopTransacts int    // transact requests ovsdb-server got from a no-op apply
	nextCfg       [2]int // Open_vSwitch next_cfg before and after the no-op applies
	gc            string // the GC trace of one no-op apply, summarized
	firstPass     []time.Duration
	flowPass      []time.Duration
	profiles      map[passKind]profile
}

// part is one part of the no-op apply, measured on its own.
type part struct {
	name string
	runs []time.Duration
}

// paths of the current mesh's files.
func (s *session) topoPath(m *mesh) string {
	return filepath.Join(s.dir, fmt.Sprintf("mesh%d.yaml", m.n))
}
func (s *session) flowsPath(m *mesh) string {
	return filepath.Join(s.dir, fmt.Sprintf("flows%d.txt", m.n))
}
func (s *session) interfaces() string { return filepath.Join(s.dir, "interfaces") }
func (s *session) daemonJSON() string { return filepath.Join(s.dir, "daemon.json") }

func (s *session) applyArgv(m *mesh) []string {
	return []string{s.bin, "apply", s.topoPath(m), "--host", measuredHost, "--db", s.h.DB(),
		"--interfaces", s.interfaces(), "--daemon-json", s.daemonJSON()}
}

func (s *session) vsctl(ctx context.Context, args ...string) (string, time.Duration, error) {
	return s.h.run(ctx, append([]string{"ovs-vsctl", "--timeout=300", "--db=" + s.h.DB()}, args...)...)
}

func (s *session) ofctl(ctx context.Context, args ...string) (string, time.Duration, error) {
	return s.h.run(ctx, append([]string{"ovs-ofctl", "-O", "OpenFlow14"}, args...)...)
}

// measure runs every case for one mesh.
func (s *session) measure(ctx context.Context, m *mesh) (*result, error) {
	r := &result{n: m.n, tunnels: len(m.want.OVS.Tunnels), flows: len(m.want.Flows), profiles: map[passKind]profile{}}
	s.logf("== N=%d: %d tunnels, %d flows", m.n, r.tunnels, r.flows)
	if err := os.WriteFile(s.topoPath(m), m.yaml, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.flowsPath(m), []byte(strings.Join(m.flowLines(), "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	steps := []struct {
		name string
		fn   func(context.Context, *mesh, *result) error
	}{
		{"(a) first apply", s.firstApply},
		{"(d) no-op apply", s.noopApply},
		{"profile of the no-op apply", s.profileOf(passNoop)},
		{"(e) flow install", s.flowInstall},
		{"profile of the flow install", s.profileOf(passFlows)},
		{"profile of the first apply", s.profileOf(passFirst)},
		{"(c) bulk ovs-vsctl", s.bulkVsctl},
		{"(b) ovs-vsctl per tunnel", s.perPortVsctl},
	}
	for _, st := range steps {
		if err := st.fn(ctx, m, r); err != nil {
			return nil, fmt.Errorf("%s: %w", st.name, err)
		}
	}
	return r, s.reset(ctx, m)
}

// profileOf returns the step that profiles an apply from the given state.
func (s *session) profileOf(kind passKind) func(context.Context, *mesh, *result) error {
	return func(ctx context.Context, m *mesh, r *result) error {
		p, err := s.profilePass(ctx, m, kind)
		if err != nil {
			return err
		}
		r.profiles[kind] = p
		s.logf("   profile %s: sum of the parts %s", kindName[kind], fmtDur(median(p.get(partSum))))
		return nil
	}
}

// repeat times run after prepare (untimed) Runs times, or SlowRuns times when the
// first run took longer than SlowAfter.
func (s *session) repeat(ctx context.Context, label string, prepare func() error, run func() (time.Duration, error)) ([]time.Duration, error) {
	var ds []time.Duration
	n := s.cfg.Runs
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if prepare != nil {
			if err := prepare(); err != nil {
				return nil, fmt.Errorf("prepare run %d: %w", i+1, err)
			}
		}
		d, err := run()
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", i+1, err)
		}
		s.logf("   %s: run %d: %s", label, i+1, fmtDur(d))
		ds = append(ds, d)
		if i == 0 && s.cfg.SlowAfter > 0 && d > s.cfg.SlowAfter && s.cfg.SlowRuns != n {
			n = s.cfg.SlowRuns
			s.logf("   %s: the first run took over %v: %d runs in all", label, s.cfg.SlowAfter, n)
		}
	}
	return ds, nil
}

// reset removes everything a case built: br0 (ovs-vsctl waits until
// ovs-vswitchd has removed its ports), docker0 and the two files.
func (s *session) reset(ctx context.Context, m *mesh) error {
	if _, _, err := s.vsctl(ctx, "--if-exists", "del-br", m.bridge()); err != nil {
		return err
	}
	if l, err := s.nl.LinkByName(m.want.Docker.Name); err == nil {
		if err := s.nl.LinkDel(l); err != nil {
			return fmt.Errorf("delete %s: %w", m.want.Docker.Name, err)
		}
	} else if !errors.As(err, new(netlink.LinkNotFoundError)) {
		return fmt.Errorf("look up %s: %w", m.want.Docker.Name, err)
	}
	for _, p := range []string{s.interfaces(), s.daemonJSON()} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// apply runs `ovsmesh apply` and returns its output and wall time.
func (s *session) apply(ctx context.Context, m *mesh, env ...string) (string, time.Duration, error) {
	return s.h.runIn(ctx, env, nil, s.applyArgv(m)...)
}

// summary is the last line of apply's output.
func summary(out string) string {
	out = strings.TrimSpace(out)
	return out[strings.LastIndexByte(out, '\n')+1:]
}

// (a) the first apply from a host without br0, docker0 or files.
func (s *session) firstApply(ctx context.Context, m *mesh, r *result) (err error) {
	r.first, err = s.repeat(ctx, "(a) first ovsmesh apply", func() error { return s.reset(ctx, m) }, func() (time.Duration, error) {
		out, d, err := s.apply(ctx, m)
		if err != nil {
			return 0, err
		}
		sum := summary(out)
		if !strings.Contains(sum, "changed") || !strings.Contains(sum, "matches the plan") {
			return 0, fmt.Errorf("first apply: unexpected summary %q", sum)
		}
		pass, err := passTime(sum)
		if err != nil {
			return 0, err
		}
		r.firstPass = append(r.firstPass, pass)
		return d, nil
	})
	if err != nil {
		return err
	}
	if err := s.checkTunnels(ctx, m); err != nil {
		return err
	}
	return s.checkFlows(ctx, m)
}

// (d) the apply on the converged host, then proof that it wrote nothing to OVSDB
// and a GC trace of one more run.
func (s *session) noopApply(ctx context.Context, m *mesh, r *result) (err error) {
	if r.nextCfg[0], err = s.nextCfg(ctx); err != nil {
		return err
	}
	r.noop, err = s.repeat(ctx, "(d) no-op ovsmesh apply", nil, func() (time.Duration, error) {
		out, d, err := s.apply(ctx, m)
		if err != nil {
			return 0, err
		}
		r.noopLine = summary(out)
		if strings.TrimSpace(out) != r.noopLine || !strings.Contains(r.noopLine, "nothing to change") {
			return 0, fmt.Errorf("no-op apply changed something:\n%s", out)
		}
		pass, err := passTime(r.noopLine)
		if err != nil {
			return 0, err
		}
		r.noopPass = append(r.noopPass, pass)
		return d, nil
	})
	if err != nil {
		return err
	}
	if r.nextCfg[1], err = s.nextCfg(ctx); err != nil {
		return err
	}
	if r.nextCfg[0] != r.nextCfg[1] {
		return fmt.Errorf("next_cfg went from %d to %d during the no-op applies: something wrote to OVSDB", r.nextCfg[0], r.nextCfg[1])
	}
	if r.noopTransacts, err = s.countTransacts(ctx, m); err != nil {
		return err
	}
	if r.noopTransacts != 0 {
		return fmt.Errorf("a no-op apply sent %d transactions to ovsdb-server, want none", r.noopTransacts)
	}
	out, _, err := s.apply(ctx, m, "GODEBUG=gctrace=1")
	if err != nil {
		return err
	}
	r.gc = gcSummary(out)
	return nil
}

// passRE matches the duration at the end of apply's summary line.
var passRE = regexp.MustCompile(`\(([0-9.]+[µnm]?s)\)$`)

func passTime(line string) (time.Duration, error) {
	mt := passRE.FindStringSubmatch(line)
	if mt == nil {
		return 0, fmt.Errorf("no pass duration in %q", line)
	}
	return time.ParseDuration(mt[1])
}

// gcRE matches a line of GODEBUG=gctrace=1: "gc 4 @0.071s 9%: ...".
var gcRE = regexp.MustCompile(`(?m)^gc (\d+) @([0-9.]+)s (\d+)%`)

// gcSummary says how many collections a process ran and the share of its CPU
// time they took (the last trace line's running figure).
func gcSummary(out string) string {
	all := gcRE.FindAllStringSubmatch(out, -1)
	if len(all) == 0 {
		return "no GC cycle"
	}
	last := all[len(all)-1]
	return fmt.Sprintf("%s GC cycles, %s%% of the CPU time until %ss", last[1], last[3], last[2])
}

func (s *session) nextCfg(ctx context.Context) (int, error) {
	out, _, err := s.vsctl(ctx, "get", "Open_vSwitch", ".", "next_cfg")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(out))
}

// transactRE matches ovsdb-server's jsonrpc debug log of a transact request.
var transactRE = regexp.MustCompile(`(?m)\|jsonrpc\|DBG\|\S+: received request, method="transact", params=.*$`)

// countTransacts runs one no-op apply with ovsdb-server's jsonrpc debug log on
// and counts the transact requests that are not ovs-vswitchd's (its own
// transactions, statistics and status, assert its "ovs_vswitchd" lock).
func (s *session) countTransacts(ctx context.Context, m *mesh) (int, error) {
	logPath := filepath.Join(s.h.RunDir, "ovsdb-server.log")
	st, err := os.Stat(logPath)
	if err != nil {
		return 0, err
	}
	if _, _, err := s.h.run(ctx, "ovs-appctl", "-t", "ovsdb-server", "vlog/set", "jsonrpc:file:dbg"); err != nil {
		return 0, err
	}
	out, _, err := s.apply(ctx, m)
	if _, _, lerr := s.h.run(ctx, "ovs-appctl", "-t", "ovsdb-server", "vlog/set", "jsonrpc:file:info"); lerr != nil {
		err = errors.Join(err, lerr)
	}
	if err != nil {
		return 0, err
	}
	if !strings.Contains(out, "nothing to change") {
		return 0, fmt.Errorf("no-op apply with the jsonrpc log: %s", out)
	}
	f, err := os.Open(logPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(st.Size(), 0); err != nil {
		return 0, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return 0, err
	}
	if !strings.Contains(string(b), `method="monitor`) {
		return 0, fmt.Errorf("%s: no monitor request logged during the apply: is the jsonrpc log on?", logPath)
	}
	n := 0
	for _, line := range transactRE.FindAllString(string(b), -1) {
		if !strings.Contains(line, `"ovs_vswitchd"`) {
			n++
		}
	}
	return n, nil
}

// checkTunnels checks that every tunnel exists with its requested OpenFlow port.
func (s *session) checkTunnels(ctx context.Context, m *mesh) error {
	out, _, err := s.vsctl(ctx, "--format=csv", "--no-headings", "--data=bare", "--columns=name,ofport", "find", "Interface", "type="+m.want.OVS.Tunnels[0].Type)
	if err != nil {
		return err
	}
	got := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		name, ofport, _ := strings.Cut(line, ",")
		got[name] = ofport
	}
	for _, t := range m.want.OVS.Tunnels {
		if got[t.Name] != strconv.Itoa(t.OFPort) {
			return fmt.Errorf("tunnel %s: ofport %q, want %d (%d tunnels found, want %d)", t.Name, got[t.Name], t.OFPort, len(got), len(m.want.OVS.Tunnels))
		}
	}
	if len(got) != len(m.want.OVS.Tunnels) {
		return fmt.Errorf("%d tunnels found, want %d", len(got), len(m.want.OVS.Tunnels))
	}
	return nil
}

// flowCountRE matches ovs-ofctl dump-aggregate's flow count.
var flowCountRE = regexp.MustCompile(`flow_count=(\d+)`)

// checkFlows checks that the bridge holds exactly the planned number of flows
// with ovsmesh's cookie.
func (s *session) checkFlows(ctx context.Context, m *mesh) error {
	out, _, err := s.ofctl(ctx, "dump-aggregate", m.bridge(), cookieMatch()+"/-1")
	if err != nil {
		return err
	}
	mt := flowCountRE.FindStringSubmatch(out)
	if mt == nil || mt[1] != strconv.Itoa(len(m.want.Flows)) {
		return fmt.Errorf("ovs-ofctl dump-aggregate: %q, want flow_count=%d", strings.TrimSpace(out), len(m.want.Flows))
	}
	return nil
}

func (s *session) delFlows(ctx context.Context, m *mesh) error {
	_, _, err := s.ofctl(ctx, "del-flows", m.bridge(), cookieMatch()+"/-1")
	return err
}

// (e) the flow table install: apply after deleting ovsmesh's flows, and as
// references one ovs-ofctl bundle of the same flows and one ovs-ofctl per flow.
func (s *session) flowInstall(ctx context.Context, m *mesh, r *result) (err error) {
	del := func() error { return s.delFlows(ctx, m) }
	r.flowApply, err = s.repeat(ctx, "(e) ovsmesh apply, flows only", del, func() (time.Duration, error) {
		out, d, err := s.apply(ctx, m)
		if err != nil {
			return 0, err
		}
		n := 0
		for line := range strings.SplitSeq(out, "\n") {
			if strings.HasPrefix(line, "openflow:") {
				n++
			} else if line != "" && line != summary(out) {
				return 0, fmt.Errorf("apply after del-flows changed more than flows: %q", line)
			}
		}
		if n != r.flows {
			return 0, fmt.Errorf("apply after del-flows: %d flow changes, want %d", n, r.flows)
		}
		pass, err := passTime(summary(out))
		if err != nil {
			return 0, err
		}
		r.flowPass = append(r.flowPass, pass)
		return d, nil
	})
	if err != nil {
		return err
	}
	if err := s.checkFlows(ctx, m); err != nil {
		return err
	}
	r.bundle, err = s.repeat(ctx, "(e) ovs-ofctl --bundle add-flows", del, func() (time.Duration, error) {
		_, d, err := s.ofctl(ctx, "--bundle", "add-flows", m.bridge(), s.flowsPath(m))
		return d, err
	})
	if err != nil {
		return err
	}
	if err := s.checkFlows(ctx, m); err != nil {
		return err
	}
	lines := m.flowLines()
	r.perFlowN = min(100, len(lines))
	r.perFlow, err = s.repeat(ctx, fmt.Sprintf("(e) %d x ovs-ofctl add-flow", r.perFlowN), del, func() (time.Duration, error) {
		start := time.Now()
		for _, f := range lines[:r.perFlowN] {
			if _, _, err := s.ofctl(ctx, "add-flow", m.bridge(), f); err != nil {
				return 0, err
			}
		}
		return time.Since(start), nil
	})
	return err
}

// (c) one ovs-vsctl invocation for the bridge and every tunnel.
func (s *session) bulkVsctl(ctx context.Context, m *mesh, r *result) (err error) {
	args := m.bulk()
	r.bulk, err = s.repeat(ctx, "(c) one bulk ovs-vsctl", func() error { return s.reset(ctx, m) }, func() (time.Duration, error) {
		_, d, err := s.vsctl(ctx, args...)
		return d, err
	})
	if err != nil {
		return err
	}
	return s.checkTunnels(ctx, m)
}

// (b) add-br, then one ovs-vsctl per tunnel, as ifupdown runs its stanzas.
func (s *session) perPortVsctl(ctx context.Context, m *mesh, r *result) (err error) {
	if s.cfg.SkipPerPort {
		s.logf("   (b) skipped (--skip-per-port)")
		return nil
	}
	r.perPort, err = s.repeat(ctx, "(b) one ovs-vsctl per tunnel", func() error { return s.reset(ctx, m) }, func() (time.Duration, error) {
		start := time.Now()
		if _, _, err := s.vsctl(ctx, m.addBridge()...); err != nil {
			return 0, err
		}
		for _, t := range m.want.OVS.Tunnels {
			if _, _, err := s.vsctl(ctx, m.addPort(t)...); err != nil {
				return 0, err
			}
		}
		return time.Since(start), nil
	})
	if err != nil {
		return err
	}
	return s.checkTunnels(ctx, m)
}
