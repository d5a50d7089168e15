// Package bench is the end-to-end benchmark of `make bench`. In one lab host
// (internal/lab: a network namespace with its own ovsdb-server and ovs-vswitchd on
// the userspace datapath) it plays one host of an N-host GRE full mesh and times
// the real ovsmesh binary against the ways an operator builds the same tunnels by
// hand (one ovs-vsctl per tunnel as ifupdown does, or one bulk ovs-vsctl), the
// no-op apply, and the install of the flow table against ovs-ofctl. It prints
// markdown for docs/benchmarks.md: the machine, one table of medians, the targets, and
// where the time of the no-op apply goes. Its figures come from the binary; it
// calls the product's packages only to break the no-op apply down into its parts.
// It is a developer tool, not part of the product.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// Config is what Run needs.
type Config struct {
	// Binary is the ovsmesh binary (make build's bin/ovsmesh).
	Binary string
	// Sizes are the mesh sizes N (hosts, so N-1 tunnels), e.g. 100 and 1000.
	Sizes []int
	// Runs is how many times each figure is measured; the table shows the median.
	Runs int
	// SlowRuns replaces Runs for a case whose first run took longer than
	// SlowAfter (the per-tunnel ovs-vsctl at N=1000 takes over a minute).
	SlowRuns  int
	SlowAfter time.Duration
	// SkipPerPort leaves case (b) out (over a minute a run at N=1000): for quick
	// iterations on the other figures; the table then shows no b.
	SkipPerPort bool
	// Progress receives one line per run; nil for none.
	Progress io.Writer
}

// Run builds a lab with one host, measures every size and writes the markdown
// report to w. The lab is torn down even when a measurement fails.
func Run(ctx context.Context, cfg Config, w io.Writer) (err error) {
	start := time.Now()
	if cfg.Runs < 1 || cfg.SlowRuns < 1 || len(cfg.Sizes) == 0 {
		return fmt.Errorf("bench: want at least one run and one size (runs %d, slow runs %d, sizes %v)", cfg.Runs, cfg.SlowRuns, cfg.Sizes)
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	bin, err := filepath.Abs(cfg.Binary)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("the ovsmesh binary: %w (run make build)", err)
	}
	m, err := describeMachine(ctx)
	if err != nil {
		return err
	}
	var meshes []*mesh
	for _, n := range cfg.Sizes {
		ms, err := newMesh(n)
		if err != nil {
			return err
		}
		meshes = append(meshes, ms)
	}

	var results []*result
	err = withSession(ctx, cfg, bin, func(s *session) error {
		for _, ms := range meshes {
			r, err := s.measure(ctx, ms)
			if err != nil {
				return fmt.Errorf("N=%d: %w", ms.n, err)
			}
			results = append(results, r)
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.loadEnd, _ = loadAvg()
	report(w, m, results, cfg, time.Since(start))
	return nil
}

// withSession builds a lab with one host, runs fn with it and tears the lab down,
// also when fn fails.
func withSession(ctx context.Context, cfg Config, bin string, fn func(*session) error) (err error) {
	dir, err := os.MkdirTemp("", "ovsmesh-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	l, err := lab.New(ctx, []lab.HostSpec{{Name: measuredHost, Underlay: underlay()}},
		lab.WithLogf(func(format string, args ...any) { fmt.Fprintf(cfg.Progress, format+"\n", args...) }))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	h, err := openHost(l.Host(measuredHost))
	if err != nil {
		return err
	}
	defer h.close()
	nl, err := netlink.NewHandleAt(h.ns)
	if err != nil {
		return fmt.Errorf("netlink in namespace %s: %w", h.NS, err)
	}
	defer nl.Close()
	return fn(&session{cfg: cfg, bin: bin, dir: dir, h: h, nl: nl})
}

// session is one lab host and the files of the pass being measured.
type session struct {
	cfg Config
	bin string
	dir string
	h   *nsHost
	nl  *netlink.Handle
}

func (s *session) logf(format string, args ...any) {
	fmt.Fprintf(s.cfg.Progress, format+"\n", args...)
}
