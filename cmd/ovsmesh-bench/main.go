// Command ovsmesh-bench is the end-to-end benchmark of `make bench` (see package
// internal/bench): in one lab host it times the ovsmesh binary against ovs-vsctl
// and ovs-ofctl for one host of an N-host GRE mesh and prints markdown tables.
// It needs root and Open vSwitch's userspace tools.
//
//	ovsmesh-bench [--ovsmesh bin/ovsmesh] [--sizes 100,1000] [--runs 5] [--slow-runs 3] [--slow-after 20s] [--skip-per-port] [-q]
//	ovsmesh-bench --loop [--sizes 1000] [--runs 5] [--profile-dir DIR] [-q]
//	ovsmesh-bench --loop-cpu [--sizes 1000] [--interval 30s] [--steady 5m] [--churn 5m] [--churn-every 1m]
//
// With --loop it times the reconcile loop's passes instead (first, adding and
// removing one peer, steady) in this process, with a CPU profile of each kind of
// pass in DIR (see bench.RunLoop). With --loop-cpu it runs `ovsmesh apply
// --interval` in the lab host and reports its CPU and memory, steady and while a
// host leaves and joins (see bench.RunLoopCPU).
//
// It is a developer tool, not part of the product.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ovsmesh-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ovsmesh-bench", flag.ContinueOnError)
	bin := fs.String("ovsmesh", "bin/ovsmesh", "the ovsmesh binary")
	sizes := fs.String("sizes", "100,1000", "mesh sizes N (hosts), comma-separated")
	runs := fs.Int("runs", 5, "runs per figure (the table shows the median)")
	slowRuns := fs.Int("slow-runs", 3, "runs of a case whose first run takes longer than --slow-after")
	slowAfter := fs.Duration("slow-after", 20*time.Second, "see --slow-runs")
	quiet := fs.Bool("q", false, "no progress on stderr")
	skipPerPort := fs.Bool("skip-per-port", false, "leave out case (b), one ovs-vsctl per tunnel (minutes at N=1000)")
	loop := fs.Bool("loop", false, "time the reconcile loop's passes at the first size instead")
	profileDir := fs.String("profile-dir", "", "with --loop: write a CPU profile of each kind of pass here")
	loopCPU := fs.Bool("loop-cpu", false, "run the loop for --steady, then --churn, and report its CPU and memory")
	interval := fs.Duration("interval", 30*time.Second, "with --loop-cpu: the loop's --interval")
	steady := fs.Duration("steady", 5*time.Minute, "with --loop-cpu: how long the steady phase lasts")
	churn := fs.Duration("churn", 5*time.Minute, "with --loop-cpu: how long the phase with leaves and joins lasts")
	churnEvery := fs.Duration("churn-every", time.Minute, "with --loop-cpu: time between a leave and a join")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := bench.Config{Binary: *bin, Runs: *runs, SlowRuns: *slowRuns, SlowAfter: *slowAfter,
		SkipPerPort: *skipPerPort, Progress: os.Stderr}
	if *quiet {
		cfg.Progress = nil
	}
	for s := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("--sizes: %q is not a number", s)
		}
		cfg.Sizes = append(cfg.Sizes, n)
	}
	if *loopCPU {
		return bench.RunLoopCPU(ctx, bench.LoopCPUConfig{Binary: *bin, N: cfg.Sizes[0], Interval: *interval, Steady: *steady,
			Churn: *churn, ChurnEvery: *churnEvery, Progress: cfg.Progress}, os.Stdout)
	}
	if *loop {
		return bench.RunLoop(ctx, bench.LoopConfig{N: cfg.Sizes[0], Runs: *runs, ProfileDir: *profileDir, Progress: cfg.Progress}, os.Stdout)
	}
	return bench.Run(ctx, cfg, os.Stdout)
}
