package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// TestLoopSurvivesOVSRestarts: the loop outlives a restart of ovsdb-server (it
// reconnects and repairs drift again) and of ovs-vswitchd (it re-pushes the flows
// the daemon lost).
func TestLoopSurvivesOVSRestarts(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology(loopGRE, 2))
	c.mustApply("docker2")
	// At debug level the log shows when libovsdb reconnects.
	p := launchLoop(t, c, "docker1", loopOpts{args: []string{"--log-level", "debug"}, wait: true})
	base := loopBaseline(t, c, "docker1")
	c1, c2 := c.container("docker1", 2), c.container("docker2", 2)
	ping(t, c1, addr(c2.Addr), 56, false)
	h := c.host("docker1")
	plan := c.plan("docker1")
	tunnel := plan.OVS.Tunnels[0].Name

	t.Run("ovsdb-server restart", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		mark := p.mark()
		stopped := time.Now()
		if err := h.StopOVSDB(ctx); err != nil {
			t.Fatal(err)
		}
		var restarted time.Time
		restart := func() {
			if restarted.IsZero() {
				if err := h.StartOVSDB(ctx); err != nil {
					t.Fatal(err)
				}
				restarted = time.Now()
			}
		}
		defer restart()
		// libovsdb logs its failed reconnection attempts (a pass that fails on
		// OVSDB would say so too).
		noticed, ok := poll(loopInterval, func() bool {
			return len(p.logs(t, mark, "failed to reconnect")) > 0 ||
				slices.ContainsFunc(p.logs(t, mark, "reconcile step failed"), func(l loopLog) bool { return l.Step == "ovsdb" })
		})
		if !ok {
			t.Errorf("the lost ovsdb-server connection was not logged within %v", noticed)
		} else {
			t.Logf("lost connection logged %v after the stop", noticed.Round(time.Millisecond))
		}
		t.Run("while it is down, the docker0 step still runs", func(t *testing.T) {
			hostRun(t, c, "docker1", "ip", "addr", "del", plan.Docker.Address.String(), "dev", "docker0")
			took, ok := poll(loopRepairBound, func() bool {
				return strings.Contains(hostRun(t, c, "docker1", "ip", "-4", "-o", "addr", "show", "dev", "docker0"), plan.Docker.Address.String())
			})
			if !ok {
				t.Fatalf("docker0's address, removed while ovsdb-server is down, not restored within %v", took)
			}
			t.Logf("docker0's address, removed while ovsdb-server is down, restored in %v", took.Round(time.Millisecond))
		})
		// The outage lasts past an interval: a pass falls due while the server is down.
		time.Sleep(time.Until(stopped.Add(loopInterval + 500*time.Millisecond)))
		p.mustBeAlive(t)
		if code, _, err := p.get("/metrics"); err != nil || code != http.StatusOK {
			t.Errorf("/metrics with ovsdb-server down: %d %v", code, err)
		}
		restart()
		t.Logf("ovsdb-server was down %v", restarted.Sub(stopped).Round(time.Millisecond))
		passed, ok := poll(loopRepairBound, func() bool {
			return p.metric(t, "ovsmesh_last_success_timestamp_seconds") >= float64(restarted.UnixNano())/1e9
		})
		if !ok {
			code, body := p.health(t)
			t.Fatalf("no pass succeeded within two intervals after ovsdb-server restarted: /healthz %d %q", code, body)
		}
		if l := p.logs(t, mark, "reconnected - restarting monitors"); len(l) > 0 {
			t.Logf("libovsdb reconnected %v after ovsdb-server restarted", l[0].Time.Sub(restarted).Round(time.Millisecond))
		}
		t.Logf("a pass succeeded %v after ovsdb-server restarted", passed.Round(time.Millisecond))
		if code, body := p.health(t); code != http.StatusOK {
			t.Errorf("/healthz %d %q after ovsdb-server restarted, want 200", code, body)
		}
		c.vsctl("docker1", "del-port", "br0", tunnel)
		deleted := time.Now()
		loopWaitState(t, c, "docker1", base, loopRepairBound, "tunnel "+tunnel+" deleted by hand after the restart")
		t.Logf("converged %v after ovsdb-server restarted (deletion at +%v)", time.Since(restarted).Round(time.Millisecond),
			deleted.Sub(restarted).Round(time.Millisecond))
		if _, err := pingWithin(c1, addr(c2.Addr), 15*time.Second); err != nil {
			t.Errorf("%s -> %s: no reply within 15s: %v", c1.Name, c2.Name, err)
		}
		if _, err := pingWithin(c2, addr(c1.Addr), 15*time.Second); err != nil {
			t.Errorf("%s -> %s: no reply within 15s: %v", c2.Name, c1.Name, err)
		}
		t.Logf("pings pass %v after ovsdb-server restarted", time.Since(restarted).Round(time.Millisecond))
		p.mustBeAlive(t)
	})

	t.Run("ovs-vswitchd restart", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		mark := p.mark()
		repairs := p.metric(t, `ovsmesh_drift_repairs_total{kind="openflow"}`)
		begin := time.Now()
		if err := h.RestartVSwitchd(ctx); err != nil {
			t.Fatal(err)
		}
		restarted := time.Now()
		if s, err := readHostState(c, "docker1", false); err == nil {
			t.Logf("right after the restart (%v): %d flows, br0 %s", restarted.Sub(begin).Round(time.Millisecond), len(s.Flows), s.BR0)
		}
		took := loopWaitState(t, c, "docker1", base, loopRepairBound, "ovs-vswitchd restart")
		t.Logf("flows and br0 restored %v after the restart began, %v after ovs-vswitchd was up again",
			time.Since(begin).Round(time.Millisecond), took.Round(time.Millisecond))
		agg := hostRun(t, c, "docker1", "ovs-ofctl", "-O", "OpenFlow14", "dump-aggregate", "br0", loopCookie)
		if want := fmt.Sprintf("flow_count=%d", len(plan.Flows)); !strings.Contains(agg, want) {
			t.Errorf("dump-aggregate: %q, want %s", agg, want)
		}
		if out := hostRun(t, c, "docker1", "ip", "-d", "link", "show", "br0"); !strings.Contains(out, "master docker0") {
			t.Errorf("br0 is not enslaved to docker0: %s", out)
		}
		// Only ovsmesh puts the flows back: its log and its metrics say it did.
		if n := len(slices.DeleteFunc(p.logs(t, mark, "change"), func(l loopLog) bool { return l.Step != "openflow" })); n == 0 {
			t.Errorf("no openflow change logged after the ovs-vswitchd restart")
		}
		if got := p.metric(t, `ovsmesh_drift_repairs_total{kind="openflow"}`); got <= repairs {
			t.Errorf(`ovsmesh_drift_repairs_total{kind="openflow"} went from %v to %v, want it to grow`, repairs, got)
		}
		if _, err := pingWithin(c1, addr(c2.Addr), 15*time.Second); err != nil {
			t.Errorf("%s -> %s: no reply within 15s: %v", c1.Name, c2.Name, err)
		}
		if _, err := pingWithin(c2, addr(c1.Addr), 15*time.Second); err != nil {
			t.Errorf("%s -> %s: no reply within 15s: %v", c2.Name, c1.Name, err)
		}
		t.Logf("pings pass %v after ovs-vswitchd was up again", time.Since(restarted).Round(time.Millisecond))
		if code, body := p.health(t); code != http.StatusOK {
			t.Errorf("/healthz %d %q after the ovs-vswitchd restart", code, body)
		}
	})

	p.stop(t)
}

// TestLoopKeepsLastGoodTopology: an invalid or missing topology file changes
// nothing, is counted on every pass and logged once per change of the file, and
// the last good topology stays in force until a valid file comes back.
func TestLoopKeepsLastGoodTopology(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology(loopGRE, 3))
	c.mustApply("docker2", "docker3")
	p := launchLoop(t, c, "docker1", loopOpts{wait: true})
	base := loopBaseline(t, c, "docker1")
	const kept = "topology not loaded: keeping the last good topology in force"
	mark := p.mark()

	// broken replaces the file with content (deletes it for ""), waits until four
	// passes have run since (the one the change triggers, then three intervals),
	// and checks that nothing changed and that `logged` errors were logged since
	// mark. It returns them.
	broken := func(t *testing.T, content string, logged int) []loopLog {
		t.Helper()
		errs, passes := p.metric(t, "ovsmesh_topology_load_errors_total"), p.metric(t, "ovsmesh_passes_total")
		if content == "" {
			if err := os.Remove(c.path); err != nil {
				t.Fatal(err)
			}
		} else {
			loopWriteFile(t, c.path, content)
		}
		// A rewritten file is loaded once it has settled (1 s unchanged); the
		// passes meanwhile keep the last good topology without a load error.
		settled, ok := poll(6*loopInterval, func() bool { return p.metric(t, "ovsmesh_topology_load_errors_total") > errs })
		if !ok {
			t.Fatalf("no load error within %v of writing the bad file", settled)
		}
		errs, passes = p.metric(t, "ovsmesh_topology_load_errors_total")-1, p.metric(t, "ovsmesh_passes_total")-1
		took, ok := poll(6*loopInterval, func() bool { return p.metric(t, "ovsmesh_passes_total") >= passes+4 })
		if !ok {
			t.Fatalf("fewer than 4 passes in %v", took)
		}
		took += settled
		got := p.logs(t, mark, kept)
		code, body := p.health(t)
		t.Logf("4 passes in %v; %q logged %d times in all; ovsmesh_topology_load_errors_total %v -> %v; /healthz %d %q",
			took.Round(time.Millisecond), kept, len(got), errs, p.metric(t, "ovsmesh_topology_load_errors_total"), code, body)
		if len(got) != logged {
			t.Errorf("%q logged %d times since the first bad file, want %d: %v", kept, len(got), logged, got)
		}
		if ch := p.logs(t, mark, "change"); len(ch) != 0 {
			t.Errorf("%d changes made with a bad topology file: %v", len(ch), ch)
		}
		if n := p.metric(t, "ovsmesh_topology_load_errors_total"); n < errs+3 {
			t.Errorf("ovsmesh_topology_load_errors_total went from %v to %v over 4 passes, want at least +3", errs, n)
		}
		s, err := readHostState(c, "docker1", false)
		if err != nil || s.String() != base.String() {
			t.Errorf("state changed with a bad topology file: %v\n%s", err, loopDiff(base.String(), s.String()))
		}
		p.mustBeAlive(t)
		return got
	}

	t.Run("invalid file", func(t *testing.T) {
		if got := broken(t, "network: [not yaml\n", 1); len(got) > 0 {
			t.Logf("logged: %s", got[0].Err)
		}
	})
	t.Run("another invalid file", func(t *testing.T) {
		bad := strings.Replace(labTopology(loopGRE, 3), "198.18.0.2,", "198.18.0.300,", 1)
		if got := broken(t, bad, 2); len(got) == 2 {
			t.Logf("logged: %s", got[1].Err)
			if !strings.Contains(got[1].Err, "198.18.0.300") {
				t.Errorf("the error does not name the bad address: %s", got[1].Err)
			}
		}
	})
	t.Run("missing file", func(t *testing.T) {
		if got := broken(t, "", 3); len(got) == 3 {
			t.Logf("logged: %s", got[2].Err)
		}
		// The last good topology is still in force: drift is repaired with it.
		c.vsctl("docker1", "del-port", "br0", "gre-docker2")
		loopWaitState(t, c, "docker1", base, loopRepairBound, "tunnel gre-docker2 deleted by hand while the file is missing")
	})
	t.Run("fixed file", func(t *testing.T) {
		loopWriteFile(t, c.path, labTopology(loopGRE, 2))
		topo, err := topology.Load(c.path)
		if err != nil {
			t.Fatal(err)
		}
		c.topo = topo
		plan := c.plan("docker1")
		loopWaitUntil(t, c, "docker1", loopRepairBound, "fixed file without docker3 applied", func(s hostState, err error) bool {
			return err == nil && len(s.Flows) == len(plan.Flows) &&
				!slices.ContainsFunc(s.Rows, func(l string) bool { return strings.HasPrefix(l, "interface gre-docker3 ") })
		})
		loopBaseline(t, c, "docker1")
		if n := len(p.logs(t, mark, "topology loaded again")); n != 1 {
			t.Errorf("%q logged %d times, want once", "topology loaded again", n)
		}
	})

	p.stop(t)
}

// TestLoopFailingStepDoesNotStopOthers: a step that fails on every pass (docker0
// is a veth, which ovsmesh refuses to replace) is counted and reported by
// /healthz while the other steps go on repairing; once the cause is gone, the
// next pass repairs it too.
func TestLoopFailingStepDoesNotStopOthers(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology(loopGRE, 2))
	c.mustApply("docker2")
	p := launchLoop(t, c, "docker1", loopOpts{wait: true})
	base := loopBaseline(t, c, "docker1")
	tunnel := c.plan("docker1").OVS.Tunnels[0].Name
	const failures = `ovsmesh_pass_failures_total{subsystem="docker0"}`
	f0 := p.metric(t, failures)
	mark := p.mark()

	// A pass may recreate the bridge between the two commands: try again then.
	var err error
	for try := 0; try < 5; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = c.host("docker1").Run(ctx, "sh", "-c", "ip link del docker0; ip link add docker0 type veth peer name d0peer")
		cancel()
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if out := hostRun(t, c, "docker1", "ip", "-d", "link", "show", "docker0"); !strings.Contains(out, "veth") {
		t.Fatalf("docker0 is not a veth: %s", out)
	}
	took, ok := poll(3*loopInterval, func() bool { return p.metric(t, failures) >= f0+2 })
	if !ok {
		t.Fatalf("%s went from %v to %v in %v, want +2", failures, f0, p.metric(t, failures), took)
	}
	t.Logf("2 failed docker0 steps %v after docker0 became a veth", took.Round(time.Millisecond))
	if code, body := p.health(t); code != http.StatusServiceUnavailable || !strings.Contains(body, "docker0") {
		t.Errorf("/healthz %d %q, want 503 naming docker0", code, body)
	} else {
		t.Logf("/healthz %d %q", code, body)
	}
	failed := slices.DeleteFunc(p.logs(t, mark, "reconcile step failed"), func(l loopLog) bool { return l.Step != "docker0" })
	if len(failed) == 0 || !strings.Contains(failed[0].Err, "not replacing it") {
		t.Errorf("no docker0 failure logged refusing to replace the veth: %v", failed)
	}

	t.Run("the ovsdb step still repairs", func(t *testing.T) {
		c.vsctl("docker1", "del-port", "br0", tunnel)
		loopWaitUntil(t, c, "docker1", loopRepairBound, "tunnel deleted by hand while docker0 fails: repaired", func(s hostState, _ error) bool {
			return slices.Equal(s.Rows, base.Rows)
		})
	})
	t.Run("the openflow step still repairs", func(t *testing.T) {
		hostRun(t, c, "docker1", "ovs-ofctl", "-O", "OpenFlow14", "del-flows", "br0", loopCookie)
		loopWaitUntil(t, c, "docker1", loopRepairBound, "flows deleted by hand while docker0 fails: repaired", func(s hostState, _ error) bool {
			return slices.Equal(s.Flows, base.Flows)
		})
	})
	t.Run("the next pass after the veth is gone recreates docker0", func(t *testing.T) {
		t.Logf("%s: %v -> %v while docker0 was a veth", failures, f0, p.metric(t, failures))
		hostRun(t, c, "docker1", "ip", "link", "del", "docker0")
		loopWaitState(t, c, "docker1", base, loopRepairBound, "docker0 veth removed: bridge recreated")
		took, ok := poll(loopInterval, func() bool { code, _ := p.health(t); return code == http.StatusOK })
		if code, body := p.health(t); !ok {
			t.Errorf("/healthz %d %q after docker0 was recreated, want 200", code, body)
		} else {
			t.Logf("/healthz 200 %v after docker0 was back: %q", took.Round(time.Millisecond), body)
		}
	})

	p.stop(t)
}

// TestLoopSoak injects drift on a host every 2s for a minute, rotating through
// five kinds, checks that each is repaired within two intervals, and that the
// loop's goroutines and memory do not grow.
func TestLoopSoak(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology(loopGRE, 2))
	c.mustApply("docker2")
	p := launchLoop(t, c, "docker1", loopOpts{wait: true})
	base := loopBaseline(t, c, "docker1")
	h := c.host("docker1")
	plan := c.plan("docker1")
	tu := plan.OVS.Tunnels[0]
	vsctl := []string{"ovs-vsctl", "--db=" + h.DB(), "--timeout=10"}
	drifts := []struct {
		name string
		argv []string
	}{
		{"tunnel port deleted", append(slices.Clone(vsctl), "del-port", "br0", tu.Name)},
		{"tunnel remote_ip changed", append(slices.Clone(vsctl), "set", "interface", tu.Name, "options:remote_ip=198.18.0.99")},
		{"ovsmesh's flows deleted", []string{"ovs-ofctl", "-O", "OpenFlow14", "--timeout=10", "del-flows", "br0", loopCookie}},
		{"docker0 MTU changed", []string{"ip", "link", "set", "docker0", "mtu", strconv.Itoa(plan.Docker.MTU - 100)}},
		{"docker0 address removed", []string{"ip", "addr", "del", plan.Docker.Address.String(), "dev", "docker0"}},
		{"docker0 MAC changed", []string{"ip", "link", "set", "docker0", "address", "02:00:00:00:00:99"}},
	}
	type sample struct {
		at         time.Duration // since the loop started
		goroutines float64
		heap       float64
		rss        int64 // bytes
	}
	take := func() sample {
		t.Helper()
		m := p.metrics(t)
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid()))
		if err != nil {
			t.Fatal(err)
		}
		var kb int64
		for l := range strings.SplitSeq(string(status), "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" && f[2] == "kB" {
				kb, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
		if kb == 0 {
			t.Fatalf("no VmRSS in /proc/%d/status", p.pid())
		}
		return sample{time.Since(p.start), m["ovsmesh_goroutines"], m["ovsmesh_heap_inuse_bytes"], kb << 10}
	}
	// A sample taken while a pass is in flight counts its goroutines too (an
	// exec'd ovs-ofctl's pipe copiers, a libovsdb transaction, the flow table
	// computed beside OVSDB): the quietest of samples over a second is the
	// loop's resting count, which a leak raises for good.
	quietest := func() sample {
		t.Helper()
		q := take()
		for end := time.Now().Add(time.Second); time.Now().Before(end); {
			time.Sleep(100 * time.Millisecond)
			if s := take(); s.goroutines < q.goroutines {
				q = s
			}
		}
		return q
	}
	sum := func(prefix string) float64 {
		var n float64
		for k, v := range p.metrics(t) {
			if strings.HasPrefix(k, prefix+"{") {
				n += v
			}
		}
		return n
	}
	repairs0, failures0 := sum("ovsmesh_drift_repairs_total"), sum("ovsmesh_pass_failures_total")

	const soak, every = 60 * time.Second, 2 * time.Second
	times := map[string][]time.Duration{}
	var first *sample
	start := time.Now()
	n := 0
	for ; time.Since(start) < soak; n++ {
		time.Sleep(time.Until(start.Add(time.Duration(n) * every)))
		d := drifts[n%len(drifts)]
		hostRun(t, c, "docker1", d.argv...)
		var last hostState
		var lastErr error
		took, ok := poll(loopRepairBound, func() bool {
			last, lastErr = readHostState(c, "docker1", false)
			return lastErr == nil && last.String() == base.String()
		})
		if !ok {
			t.Fatalf("injection %d (%s, at +%v) not repaired within two intervals: %v\n%s", n+1, d.name,
				time.Since(start).Round(time.Millisecond), lastErr, loopDiff(base.String(), last.String()))
		}
		times[d.name] = append(times[d.name], took)
		if first == nil && time.Since(p.start) >= 5*time.Second {
			s := quietest()
			first = &s
		}
	}
	elapsed := time.Since(start)
	end := quietest()
	if first == nil {
		t.Fatal("no sample taken 5s after the loop started")
	}
	repaired := 0
	for _, d := range drifts {
		ts := times[d.name]
		repaired += len(ts)
		slices.Sort(ts)
		if len(ts) > 0 {
			t.Logf("%-25s %2d repairs: min %v, median %v, max %v", d.name, len(ts), ts[0].Round(time.Millisecond),
				ts[len(ts)/2].Round(time.Millisecond), ts[len(ts)-1].Round(time.Millisecond))
		}
	}
	repairs, failures := sum("ovsmesh_drift_repairs_total")-repairs0, sum("ovsmesh_pass_failures_total")-failures0
	t.Logf("%d injections in %v, %d repaired within two intervals; ovsmesh_drift_repairs_total +%v, ovsmesh_pass_failures_total +%v, ovsmesh_passes_total %v",
		n, elapsed.Round(time.Millisecond), repaired, repairs, failures, p.metric(t, "ovsmesh_passes_total"))
	t.Logf("at %v: %v goroutines, heap in use %.1f MiB, VmRSS %.1f MiB", first.at.Round(time.Second), first.goroutines, first.heap/(1<<20), float64(first.rss)/(1<<20))
	t.Logf("at %v: %v goroutines, heap in use %.1f MiB, VmRSS %.1f MiB", end.at.Round(time.Second), end.goroutines, end.heap/(1<<20), float64(end.rss)/(1<<20))
	if repaired != n {
		t.Errorf("%d of %d injections repaired", repaired, n)
	}
	// Every injection makes the loop change at least one thing.
	if repairs < float64(n) {
		t.Errorf("ovsmesh_drift_repairs_total grew by %v over %d injections, want at least %d", repairs, n, n)
	}
	// The goroutine count is exact: a leak of one per pass or per repair (30+ of
	// each) would exceed the slack, which covers what may still be in flight in
	// the quietest sample (the scrape's own connection, a monitor update).
	if end.goroutines > first.goroutines+5 {
		t.Errorf("goroutines grew from %v to %v over the soak, want at most +5", first.goroutines, end.goroutines)
	}
	// RSS: after warm-up the heap only grows to the GC's target (twice the live
	// heap), so half again plus 10 MiB covers GC timing and allocator slack, while
	// a leak of a third of a MiB or more per injection exceeds it.
	if limit := first.rss*3/2 + 10<<20; end.rss > limit {
		t.Errorf("VmRSS grew from %d to %d bytes over the soak, want at most %d", first.rss, end.rss, limit)
	}
	if code, body := p.health(t); code != http.StatusOK {
		t.Errorf("/healthz %d %q after the soak", code, body)
	}
	p.stop(t)
}
