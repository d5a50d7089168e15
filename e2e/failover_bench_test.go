package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkFailover measures, in one run, how long the containers of a
// three-host lab triangle lose each other when the underlay path between
// docker1 and docker2 is cut (both ways, the hosts' links stay up), for every
// way ovsmesh has of surviving it: 802.1D and RSTP, each with and without BFD,
// the mesh with BFD (its one-hop relay) over GRE and VXLAN, and the mesh
// without BFD, which has no failover at all. docker1's container pings
// docker2's every 10 ms throughout. It prints a markdown table with each case's
// median outage against 802.1D's, measured in the same run
// (docs/failover-bench.md):
//
//	go test -run '^$' -bench BenchmarkFailover -benchtime 1x ./e2e/
func BenchmarkFailover(b *testing.B) {
	cond := failConditions()
	var results []failResult
	for _, fc := range failCases {
		b.Run(fc.name, func(b *testing.B) {
			r := runFailover(b, fc)
			r.report(b)
			results = append(results, r)
		})
	}
	cond += fmt.Sprintf("; load average at the end: %s", loadAvg())
	if len(results) > 0 {
		fmt.Print(failTable(results, cond))
	}
}

// failLinks make the triangle's blocked port the same whichever bridge wins
// the root election: docker2-docker3 costs 1000 against 2 for the way round, so
// a spanning tree always blocks it, and docker1 reaches docker2 over the link
// that is cut. The mesh modes ignore link costs.
var failLinks = []string{
	"{a: docker1, b: docker2, cost: 1}",
	"{a: docker1, b: docker3, cost: 1}",
	"{a: docker2, b: docker3, cost: 1000}",
}

// failCase is one way of surviving the cut.
type failCase struct {
	name, label string
	network     string // the network keys of the topology file
	// tree is the ovs-appctl command that shows the spanning tree, with the
	// states of a forwarding and of a blocked port; empty in mode mesh.
	tree, fwd, block string
	bfd              bool
	cuts             int
	// hold is how long the cut is held at most while waiting for the replies
	// to come back; past it the cut counts as "no recovery".
	hold time.Duration
}

// failCases are the cases in the order of the table; the first is the baseline.
var failCases = []failCase{
	{name: "stp", label: "stp (802.1D)", network: "  encap: gre\n  mode: stp\n",
		tree: "stp/show", fwd: "forwarding", block: "blocking", cuts: 1, hold: 90 * time.Second},
	{name: "stp_bfd", label: "stp (802.1D), bfd: true", network: "  encap: gre\n  mode: stp\n  bfd: true\n",
		tree: "stp/show", fwd: "forwarding", block: "blocking", bfd: true, cuts: 1, hold: 90 * time.Second},
	{name: "rstp", label: "stp, rstp: true", network: "  encap: gre\n  mode: stp\n  rstp: true\n",
		tree: "rstp/show", fwd: "Forwarding", block: "Discarding", cuts: 2, hold: 30 * time.Second},
	{name: "rstp_bfd", label: "stp, rstp: true, bfd: true", network: "  encap: gre\n  mode: stp\n  rstp: true\n  bfd: true\n",
		tree: "rstp/show", fwd: "Forwarding", block: "Discarding", bfd: true, cuts: 5, hold: 20 * time.Second},
	{name: "mesh_gre_bfd", label: "mesh gre, bfd: true (relay)", network: "  encap: gre\n  mode: mesh\n  bfd: true\n",
		bfd: true, cuts: 5, hold: 20 * time.Second},
	{name: "mesh_vxlan_bfd", label: "mesh vxlan, bfd: true (relay)", network: "  encap: vxlan\n  mode: mesh\n  bfd: true\n",
		bfd: true, cuts: 5, hold: 20 * time.Second},
	{name: "mesh_gre", label: "mesh gre, no bfd", network: "  encap: gre\n  mode: mesh\n",
		cuts: 1, hold: 60 * time.Second},
}

// failResult is what the cuts of one case measured.
type failResult struct {
	c failCase
	// outages: the longest gap between replies from the cut to the restore;
	// firsts: from the cut to the reply that ended it (recovered cuts only);
	// restores: the longest gap from the restore until the lab has settled;
	// quiet: the longest gap in the second before each cut (the machine's jitter).
	outages, firsts, restores, quiet []time.Duration
	recovered                        int
	dups                             int
	lines                            []string // one per cut, printed under the table
}

// runFailover builds the case's lab, waits for it to converge, starts the
// pinger and cuts docker1-docker2 fc.cuts times.
func runFailover(b *testing.B, fc failCase) failResult {
	start := time.Now()
	l := newCutLab(b, labTopology(fc.network, 3, failLinks...))
	applied := time.Now()
	tree := l.settle(fc)
	r := failResult{c: fc}
	r.lines = append(r.lines, fmt.Sprintf("%s: lab and applies %v, converged %v after the applies%s",
		fc.name, applied.Sub(start).Round(100*time.Millisecond), time.Since(applied).Round(100*time.Millisecond), tree))
	b.Log(r.lines[0])
	p := startPinger(b, l.cts["docker1"], l.cts["docker2"].Addr.Addr(), 10*time.Millisecond, 0)
	if !waitReply(p, time.Now(), 30*time.Second) {
		b.Fatalf("%s: docker1's container gets no reply from docker2's in 30 s, before any cut", fc.name)
	}
	time.Sleep(time.Second)
	for i := range fc.cuts {
		l.cutOnce(p, &r, i)
	}
	r.dups = p.stop().dups
	return r
}

// settle waits until the case's failover machinery is ready: the spanning tree
// converged (with one blocked port) and every BFD session up. It describes the
// tree it found, if any.
func (l *relayLab) settle(fc failCase) string {
	l.t.Helper()
	tree := ""
	if fc.tree != "" {
		blocked, root := l.treeConverged(fc.tree, fc.fwd, fc.block, 120*time.Second)
		host, _, _ := strings.Cut(blocked, ":")
		tree = fmt.Sprintf(" (root bridge %s, blocked port %s)", root, l.blockedTunnel(host, fc))
	}
	if fc.bfd {
		l.waitAllBFD()
		// The pass the loop runs when the sessions come up: it puts the
		// relay choice in place (a first pass sends directly, see
		// topology.PathPolicy). Later it changes nothing.
		l.applyAll()
	}
	return tree
}

// blockedTunnel names host's tunnel in the blocked state, from OVSDB, as
// "host:tunnel".
func (l *relayLab) blockedTunnel(host string, fc failCase) string {
	l.t.Helper()
	key := "status:stp_state"
	if fc.tree == "rstp/show" {
		key = "rstp_status:rstp_port_state"
	}
	for _, tu := range l.plan(host).OVS.Tunnels {
		out := l.vsctl(host, "get", "port", tu.Name, key)
		if strings.Trim(out, `"`) == fc.block {
			return host + ":" + tu.Name
		}
	}
	return host + ":?"
}

// cutOnce cuts docker1-docker2, waits for the replies to come back (up to the
// case's hold), restores the path, waits for the lab to settle and records the
// figures of cut i.
func (l *relayLab) cutOnce(p *pinger, r *failResult, i int) {
	l.t.Helper()
	at := time.Now()
	r.quiet = append(r.quiet, p.replies().gap(at.Add(-time.Second), at))
	restore := l.cut("docker1", "docker2")
	// Replies later than 200 ms after the cut went round it: without failover
	// they never come.
	back := waitReply(p, time.Now().Add(200*time.Millisecond), r.c.hold)
	if back {
		time.Sleep(time.Second) // the recovery holds
	}
	restored := time.Now()
	restore()
	l.settle(r.c)
	if !waitReply(p, time.Now(), 90*time.Second) {
		l.t.Fatalf("%s cut %d: no reply in the 90 s after the restore", r.c.name, i+1)
	}
	time.Sleep(time.Second)
	settled := time.Now()
	log := p.replies()
	r.outages = append(r.outages, log.gap(at, restored))
	if end, ok := log.outageEnd(at, restored); ok && back {
		r.firsts = append(r.firsts, end.Sub(at))
		r.recovered++
	}
	r.restores = append(r.restores, log.gapSince(restored, settled))
	line := fmt.Sprintf("%s cut %d: outage %v, recovered %v, gap around the restore %v (cut held %v, settled %v after the restore)",
		r.c.name, i+1, ms(r.outages[i]), back, ms(r.restores[i]), ms(restored.Sub(at)), ms(settled.Sub(restored)))
	r.lines = append(r.lines, line)
	l.t.Log(line)
}

// report hands the case's figures to the benchmark framework.
func (r failResult) report(b *testing.B) {
	b.ReportMetric(0, "ns/op") // the whole run's time means nothing here
	b.ReportMetric(float64(len(r.outages)), "cuts")
	b.ReportMetric(float64(r.recovered), "recovered_cuts")
	b.ReportMetric(msf(median(r.outages)), "outage_ms")
	if len(r.firsts) > 0 {
		b.ReportMetric(msf(median(r.firsts)), "first_reply_ms")
	}
	b.ReportMetric(msf(median(r.restores)), "restore_gap_ms")
	b.ReportMetric(msf(slices.Max(r.restores)), "restore_gap_max_ms")
	// Duplicates are a figure, not a failure: 802.1D may deliver one twice while
	// it reconverges (the relay's promise of none is TestRelayFailoverGRE's).
	b.ReportMetric(float64(r.dups), "dup_replies")
}

// failTable writes the results as a markdown table, each case's median outage
// against the baseline's (the first case, 802.1D), when it ran.
func failTable(results []failResult, cond string) string {
	var base time.Duration
	if r := results[0]; r.c.name == failCases[0].name && r.recovered == len(r.outages) {
		base = median(r.outages)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "\nFailover, docker1-docker2 cut in a 3-host triangle, pings every 10 ms (%s)\n\n", cond)
	s.WriteString("| case | cuts | outage (min / median / max) | first reply after the cut (median) | gap around the restore (min / median / max) | quiet gap before the cut (max) | duplicate replies | median outage / 802.1D's |\n")
	s.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		outage, first, ratio := spreadMS(r.outages), "-", "-"
		if len(r.firsts) > 0 {
			first = ms(median(r.firsts)).String()
		}
		switch {
		case r.recovered == 0:
			outage = fmt.Sprintf("no recovery while cut (%v)", r.c.hold)
			if base > 0 {
				ratio = fmt.Sprintf("> %.2f (no recovery)", float64(median(r.outages))/float64(base))
			}
		case r.recovered < len(r.outages):
			outage = fmt.Sprintf("no recovery in %d of %d cuts (%v); %s", len(r.outages)-r.recovered, len(r.outages), r.c.hold, outage)
		case base > 0 && r.c.name == failCases[0].name:
			ratio = "1 (baseline)"
		case base > 0:
			q := float64(median(r.outages)) / float64(base)
			ratio = fmt.Sprintf("%.2f", q)
			if q < 0.5 {
				ratio = fmt.Sprintf("%.3g (%.0f× shorter)", q, 1/q)
			}
		}
		fmt.Fprintf(&s, "| %s | %d | %s | %s | %s | %v | %d | %s |\n", r.c.label, len(r.outages), outage, first,
			spreadMS(r.restores), ms(slices.Max(r.quiet)), r.dups, ratio)
	}
	s.WriteString("\nPer cut:\n\n")
	for _, r := range results {
		for _, line := range r.lines {
			fmt.Fprintf(&s, "- %s\n", line)
		}
	}
	return s.String()
}

// failConditions describes the machine the run is on: the figures depend on it.
func failConditions() string {
	ovs := "ovs-vswitchd not found"
	if out, err := exec.Command("ovs-vswitchd", "--version").Output(); err == nil {
		ovs, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%s UTC, %d CPUs, %s, Linux %s, %s, userspace datapath; load average at the start: %s",
		time.Now().UTC().Format("2006-01-02 15:04"), runtime.NumCPU(), ovs, strings.TrimSpace(string(kernel)),
		runtime.Version(), loadAvg())
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// spreadMS writes min / median / max, rounded to the millisecond.
func spreadMS(ds []time.Duration) string {
	return fmt.Sprintf("%v / %v / %v", ms(slices.Min(ds)), ms(median(ds)), ms(slices.Max(ds)))
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
