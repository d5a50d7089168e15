package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LoopCPUConfig is what RunLoopCPU needs.
type LoopCPUConfig struct {
	Binary   string        // bin/ovsmesh
	N        int           // mesh size
	Interval time.Duration // the loop's --interval
	Steady   time.Duration // how long the steady phase is measured
	Churn    time.Duration // how long the phase with a join or a leave every ChurnEvery is measured
	// ChurnEvery is the time between two rewrites of the topology file (host N
	// leaves, then joins again, ...).
	ChurnEvery time.Duration
	Progress   io.Writer
}

// procSample is one reading of /proc/PID/stat and /proc/PID/status.
type procSample struct {
	at             time.Time
	cpu, childCPU  time.Duration // utime+stime; cutime+cstime (waited-for children: ovs-ofctl)
	rssKiB, hwmKiB int
}

// clockTick is the unit of /proc/PID/stat's times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// sampleProc reads a process's CPU times and memory.
func sampleProc(pid int) (procSample, error) {
	s := procSample{at: time.Now()}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The fields after the command name, which is in parentheses: state is
	// field 3, utime 14, stime 15, cutime 16, cstime 17.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 15 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	tick := func(i int) time.Duration { n, _ := strconv.ParseInt(f[i], 10, 64); return time.Duration(n) * clockTick }
	s.cpu, s.childCPU = tick(11)+tick(12), tick(13)+tick(14)
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for line := range strings.Lines(string(st)) {
		k, v, _ := strings.Cut(line, ":")
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "VmRSS":
			s.rssKiB = n
		case "VmHWM":
			s.hwmKiB = n
		}
	}
	return s, nil
}

// RunLoopCPU runs `ovsmesh apply --interval` for one host of an N-host mesh in a
// lab host and reports its CPU use and memory, steady and while host N leaves and
// joins, from /proc.
func RunLoopCPU(ctx context.Context, cfg LoopCPUConfig, w io.Writer) error {
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
	m, err := describeMachine(ctx)
	if err != nil {
		return err
	}
	bin, err := filepath.Abs(cfg.Binary)
	if err != nil {
		return err
	}
	return withSession(ctx, Config{Runs: 1, Progress: cfg.Progress}, bin, func(s *session) error {
		phases, err := s.loopCPU(ctx, cfg, full, less)
		if err != nil {
			return err
		}
		m.loadEnd, _ = loadAvg()
		reportLoopCPU(w, m, cfg, phases)
		return nil
	})
}

// cpuPhase is one measured phase: samples every 10 s.
type cpuPhase struct {
	name    string
	samples []procSample
}

func (s *session) loopCPU(ctx context.Context, cfg LoopCPUConfig, full, less *mesh) ([]cpuPhase, error) {
	topo := s.topoPath(full)
	write := func(m *mesh) error { // atomically, as an operator's tool would
		tmp := topo + ".tmp"
		if err := os.WriteFile(tmp, m.yaml, 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, topo)
	}
	if err := write(full); err != nil {
		return nil, err
	}
	argv := append(s.applyArgv(full), "--interval", cfg.Interval.String(), "--log-level", "warn")
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), s.h.Env()...)
	cmd.Stdout, cmd.Stderr = cfg.Progress, cfg.Progress
	cmd.WaitDelay = waitDelay
	if _, err := s.h.start(cmd); err != nil {
		return nil, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM) // by its pid; Wait reaps it
		cmd.Wait()
	}()
	pid := cmd.Process.Pid
	fmt.Fprintf(cfg.Progress, "   loop pid %d: waiting for the first pass to converge\n", pid)
	if err := s.waitConverged(ctx, full); err != nil {
		return nil, err
	}
	steady, err := sampleFor(ctx, pid, cfg.Steady, nil)
	if err != nil {
		return nil, err
	}
	next, leave := time.Now().Add(cfg.ChurnEvery), true
	churn, err := sampleFor(ctx, pid, cfg.Churn, func() error {
		if time.Now().Before(next) {
			return nil
		}
		next = next.Add(cfg.ChurnEvery)
		m := full
		if leave {
			m = less
		}
		leave = !leave
		fmt.Fprintf(cfg.Progress, "   topology file: %d hosts\n", m.n)
		return write(m)
	})
	if err != nil {
		return nil, err
	}
	return []cpuPhase{
		{fmt.Sprintf("steady, %s", cfg.Steady), steady},
		{fmt.Sprintf("host %d leaving or joining every %s, %s", cfg.N, cfg.ChurnEvery, cfg.Churn), churn},
	}, nil
}

// waitConverged waits until the bridge holds every tunnel and flow of m.
func (s *session) waitConverged(ctx context.Context, m *mesh) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if s.checkTunnels(ctx, m) == nil && s.checkFlows(ctx, m) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the loop did not converge within 2 minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// sampleFor samples the process every second for d, calling tick (if any) each
// time.
func sampleFor(ctx context.Context, pid int, d time.Duration, tick func() error) ([]procSample, error) {
	var out []procSample
	end := time.Now().Add(d)
	for {
		smp, err := sampleProc(pid)
		if err != nil {
			return nil, fmt.Errorf("the loop (pid %d) is gone: %w", pid, err)
		}
		out = append(out, smp)
		if !smp.at.Before(end) {
			return out, nil
		}
		if tick != nil {
			if err := tick(); err != nil {
				return nil, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(time.Second, time.Until(end))):
		}
	}
}

// reportLoopCPU prints the loop's CPU and memory per phase.
func reportLoopCPU(w io.Writer, m machine, cfg LoopCPUConfig, phases []cpuPhase) {
	fmt.Fprintf(w, "Machine: %d CPUs (%s), %s, Open vSwitch %s, %s. Load average %s at the start, %s at the end.\n\n",
		m.cpus, m.model, m.kernel, m.ovs, m.goVersion, m.loadStart, m.loadEnd)
	fmt.Fprintf(w, "`ovsmesh apply --interval %s` for h1 of a %d-host GRE mesh (no host firewall changes outside the lab, no Docker), from /proc/PID/stat and status:\n\n", cfg.Interval, cfg.N)
	fmt.Fprintln(w, "| phase | ovsmesh CPU (user+sys) | per hour | its ovs-ofctl children's CPU | per hour | RSS min–max | peak RSS (VmHWM) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, p := range phases {
		a, b := p.samples[0], p.samples[len(p.samples)-1]
		wall := b.at.Sub(a.at)
		perHour := func(d time.Duration) string {
			return (time.Duration(float64(d) * float64(time.Hour) / float64(wall))).Round(100 * time.Millisecond).String()
		}
		lo, hi := a.rssKiB, a.rssKiB
		for _, smp := range p.samples {
			lo, hi = min(lo, smp.rssKiB), max(hi, smp.rssKiB)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.1f–%.1f MiB | %.1f MiB |\n", p.name, b.cpu-a.cpu, perHour(b.cpu-a.cpu),
			b.childCPU-a.childCPU, perHour(b.childCPU-a.childCPU), float64(lo)/1024, float64(hi)/1024, float64(b.hwmKiB)/1024)
	}
	for _, p := range phases {
		reportWindows(w, p)
	}
}

// reportWindows prints, for a phase of 20 minutes or more, its RSS and CPU in
// windows of 10 minutes, so that growth over a long run shows.
func reportWindows(w io.Writer, p cpuPhase) {
	const window = 10 * time.Minute
	if len(p.samples) == 0 || p.samples[len(p.samples)-1].at.Sub(p.samples[0].at) < 2*window {
		return
	}
	fmt.Fprintf(w, "\n%s, by 10 minutes:\n\n| minutes | RSS min–max | RSS at the end | ovsmesh CPU | ovs-ofctl children's CPU |\n|---|---|---|---|---|\n", p.name)
	start := p.samples[0].at
	for i := 0; i < len(p.samples); {
		j, lo, hi := i, p.samples[i].rssKiB, p.samples[i].rssKiB
		for j+1 < len(p.samples) && p.samples[j+1].at.Sub(start) <= window*time.Duration(1+int(p.samples[i].at.Sub(start)/window)) {
			j++
			lo, hi = min(lo, p.samples[j].rssKiB), max(hi, p.samples[j].rssKiB)
		}
		if j == len(p.samples)-2 { // the last sample alone is no window: it ends this one
			j++
			lo, hi = min(lo, p.samples[j].rssKiB), max(hi, p.samples[j].rssKiB)
		}
		a, b := p.samples[i], p.samples[j]
		fmt.Fprintf(w, "| %d–%d | %.1f–%.1f MiB | %.1f MiB | %s | %s |\n", int(a.at.Sub(start).Minutes()), int(b.at.Sub(start).Minutes()+0.5),
			float64(lo)/1024, float64(hi)/1024, float64(b.rssKiB)/1024, b.cpu-a.cpu, b.childCPU-a.childCPU)
		i = j + 1
	}
}
