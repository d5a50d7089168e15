package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// median returns the middle of ds (the mean of the two middles for an even count).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// fmtDur prints a duration with three significant digits in ms or s.
func fmtDur(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return fmt.Sprintf("%.1f ms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.0f ms", ms)
	case ms < 100_000:
		return fmt.Sprintf("%.2f s", ms/1000)
	}
	return fmt.Sprintf("%.0f s", ms/1000)
}

// cell is a median with the spread and the number of runs.
func cell(ds []time.Duration) string {
	if len(ds) == 0 {
		return "–"
	}
	if len(ds) == 1 {
		return fmt.Sprintf("**%s** (1 run)", fmtDur(ds[0]))
	}
	return fmt.Sprintf("**%s** (%s–%s, %d runs)", fmtDur(median(ds)), fmtDur(slices.Min(ds)), fmtDur(slices.Max(ds)), len(ds))
}

// scaled multiplies every run, for the per-flow extrapolation.
func scaled(ds []time.Duration, num, den int) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = time.Duration(float64(d) * float64(num) / float64(den))
	}
	return out
}

func ratio(a, b []time.Duration) float64 { return float64(median(a)) / float64(median(b)) }

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**NO**"
}

// report writes the markdown.
func report(w io.Writer, m machine, rs []*result, cfg Config, took time.Duration) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("## End-to-end: one host of an N-host GRE mesh (`make bench`)")
	p("")
	p("Machine: %d CPUs (%s), %.1f GiB RAM, Linux %s, %s, Go %s. Load average %s at the start and %s at the end (1, 5, 15 min): the machine is shared, so compare figures of one run with each other rather than across runs.",
		m.cpus, m.model, m.memGiB, m.kernel, m.ovs, strings.TrimPrefix(m.goVersion, "go"), m.loadStart, m.loadEnd)
	p("")
	p("One lab host (internal/lab: a network namespace with its own ovsdb-server and ovs-vswitchd, userspace datapath) plays host h1 of an N-host GRE full mesh (subnet 10.0.0.0/8, /20 slices, peers at 198.18.0.0/15 that do not exist; no traffic is sent). Every time is the wall time of the whole process(es), forked inside the namespace; ovs-vsctl and `ovsmesh apply` return once ovs-vswitchd has applied the change. Cells: **median** (min–max, runs); a case whose first run takes over %v runs %d times instead of %d. Between runs br0 is deleted (`ovs-vsctl del-br`), docker0 too, and the files removed; (b) and (c) include creating br0, as (a) does.", cfg.SlowAfter, cfg.SlowRuns, cfg.Runs)
	p("")
	head := "| case |"
	rule := "|---|"
	for _, r := range rs {
		head += fmt.Sprintf(" N = %d: %d tunnels, %d flows |", r.n, r.tunnels, r.flows)
		rule += "---|"
	}
	p("%s\n%s", head, rule)
	row := func(name string, f func(r *result) string) {
		line := "| " + name + " |"
		for _, r := range rs {
			line += " " + f(r) + " |"
		}
		p("%s", line)
	}
	row("(a) first `ovsmesh apply` on a host without br0: bridge, tunnels, docker0, flow table, both files", func(r *result) string { return cell(r.first) })
	row("(b) `ovs-vsctl add-br`, then one `ovs-vsctl add-port br0 NAME -- set interface NAME type=gre options:remote_ip=IP ofport_request=P` per tunnel (what ifupdown does)", func(r *result) string { return cell(r.perPort) })
	row("(c) one `ovs-vsctl` invocation: `add-br` and every `-- add-port … -- set interface …`", func(r *result) string { return cell(r.bulk) })
	row("(d) no-op `ovsmesh apply` on the converged host (\"nothing to change\", 0 OVSDB writes)", func(r *result) string { return cell(r.noop) })
	row("(e) `ovsmesh apply` after `ovs-ofctl del-flows br0 cookie=0x6f76736d657368/-1`: installs the flow table only", func(r *result) string { return cell(r.flowApply) })
	row("(e) reference: `ovs-ofctl -O OpenFlow14 --bundle add-flows br0 FILE`, the same flows", func(r *result) string { return cell(r.bundle) })
	row("(e) reference: one `ovs-ofctl add-flow` per flow, **extrapolated** from the first 100 flows", func(r *result) string {
		return cell(scaled(r.perFlow, r.flows, r.perFlowN)) + fmt.Sprintf(", measured %s for %d", fmtDur(median(r.perFlow)), r.perFlowN)
	})
	row("a/b (b/a)", func(r *result) string {
		if len(r.perPort) == 0 {
			return "– (b skipped)"
		}
		return fmt.Sprintf("%.3f (%.0f×)", ratio(r.first, r.perPort), ratio(r.perPort, r.first))
	})
	row("a/c", func(r *result) string { return fmt.Sprintf("%.2f", ratio(r.first, r.bulk)) })

	big := rs[len(rs)-1]
	p("")
	p("### Targets (N = %d)", big.n)
	p("")
	p("| target | measured | met |")
	p("|---|---|---|")
	a, c, d := median(big.first), median(big.bulk), median(big.noop)
	p("| a ≤ c | a = %s, c = %s | %s |", fmtDur(a), fmtDur(c), yesNo(a <= c))
	if len(big.perPort) == 0 {
		p("| b/a ≥ 40 | not measured (--skip-per-port) | – |")
	} else {
		p("| b/a ≥ 40 | %.0f× | %s |", ratio(big.perPort, big.first), yesNo(ratio(big.perPort, big.first) >= 40))
	}
	p("| d < 100 ms | %s | %s |", fmtDur(d), yesNo(d < 100*time.Millisecond))
	for _, r := range rs {
		e := median(r.flowApply)
		p("| e < 100 ms (N = %d) | %s | %s |", r.n, fmtDur(e), yesNo(e < 100*time.Millisecond))
	}

	for _, r := range rs {
		profileTable(p, r, cfg)
	}
	p("")
	p("This run took %s in all (lab set-up, resets and checks included).", took.Round(time.Second))
}

// profileTable breaks the three applies of one size down into their parts.
func profileTable(p func(string, ...any), r *result, cfg Config) {
	kinds := []passKind{passFirst, passNoop, passFlows}
	p("")
	p("### Where the time of an apply goes, N = %d", r.n)
	p("")
	p("Medians of %d runs. The process start is the binary's; every other part is the product's own package called as `ovsmesh apply` calls it, in the benchmark's process (warm: heap grown, code paged in) against the same host. The parts are timed one after the other, while a real pass runs some of them side by side (the OVSDB connection, the files and the flow dump; see \"What apply does on a host\" in the README). The row \"cold start\" is the whole process minus the sum: what a fresh process pays on top (page faults as its heap grows, first-use costs, GC at a small heap) plus the CLI's wiring, less what running side by side saves; it can be negative.", cfg.Runs)
	p("")
	p("| part | %s | %s | %s |", kindName[passFirst], kindName[passNoop], kindName[passFlows])
	p("|---|---|---|---|")
	seen := map[string]bool{}
	var names []string
	for _, k := range kinds {
		for _, pt := range r.profiles[k].parts {
			if !seen[pt.name] && pt.name != partDumpNS && pt.name != partAggr {
				seen[pt.name] = true
				names = append(names, pt.name)
			}
		}
	}
	// The parts run in pass order; OVSDB's transaction parts only exist in (a).
	order := []string{partStart, partLoad, partPlan, partConnect, partOVSDB, partTransact, partWait, partBridge,
		partOfctl, partFlowsGo, partFiles, partClose, partPrint, partSum}
	line := func(name string, f func(k passKind) string) {
		p("| %s | %s | %s | %s |", name, f(passFirst), f(passNoop), f(passFlows))
	}
	for _, name := range order {
		if !seen[name] {
			continue
		}
		line(name, func(k passKind) string {
			ds := r.profiles[k].get(name)
			if ds == nil {
				return "–"
			}
			if name == partSum {
				return "**" + fmtDur(median(ds)) + "**"
			}
			return fmtDur(median(ds))
		})
	}
	whole := map[passKind][]time.Duration{passFirst: r.first, passNoop: r.noop, passFlows: r.flowApply}
	pass := map[passKind][]time.Duration{passFirst: r.firstPass, passNoop: r.noopPass, passFlows: r.flowPass}
	line("**whole `ovsmesh apply` process**, from the table above", func(k passKind) string { return "**" + fmtDur(median(whole[k])) + "**" })
	line("cold start: whole process − sum of the parts", func(k passKind) string {
		return fmtDur(median(whole[k]) - median(r.profiles[k].get(partSum)))
	})
	line("the pass as apply's summary line reports it (OVSDB diff to files; no start, connect or printing)", func(k passKind) string { return fmtDur(median(pass[k])) })
	for _, name := range []string{partDumpNS, partAggr} {
		line(name, func(k passKind) string {
			if ds := r.profiles[k].get(name); ds != nil {
				return fmtDur(median(ds))
			}
			return "–"
		})
	}
	line("garbage collection in one no-op apply process (`GODEBUG=gctrace=1`)", func(k passKind) string {
		if k == passNoop {
			return r.gc
		}
		return "–"
	})
	line("OVSDB writes: transact requests from ovsmesh in ovsdb-server's jsonrpc debug log during a no-op apply; `next_cfg` before → after the no-op applies", func(k passKind) string {
		if k == passNoop {
			return fmt.Sprintf("%d; %d → %d", r.noopTransacts, r.nextCfg[0], r.nextCfg[1])
		}
		return "–"
	})
	line("apply's summary line (last run)", func(k passKind) string {
		if k == passNoop {
			return "`" + r.noopLine + "`"
		}
		return "–"
	})
}
