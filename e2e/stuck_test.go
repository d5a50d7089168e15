package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/openflow"
)

// A daemon that is alive but stuck (SIGSTOP) keeps its sockets open and answers
// nothing: no call of a pass may wait for it forever.

// stopDaemon sends SIGSTOP to pid and registers a SIGCONT for the end of the test;
// the returned function sends SIGCONT at once (then the cleanup does nothing).
func stopDaemon(t *testing.T, name string, pid int) func() {
	t.Helper()
	if pid <= 0 {
		t.Fatalf("no pid for %s", name)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP %s (pid %d): %v", name, pid, err)
	}
	stopped := time.Now()
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Errorf("SIGCONT %s (pid %d): %v", name, pid, err)
			}
			t.Logf("%s (pid %d) was stopped for %v", name, pid, time.Since(stopped).Round(time.Millisecond))
		}
	}
	t.Cleanup(resume)
	return resume
}

// failures returns the sum of ovsmesh_pass_failures_total over its subsystems.
func failures(t *testing.T, p *loopProc) (float64, map[string]float64) {
	t.Helper()
	by := map[string]float64{}
	sum := 0.0
	for k, v := range p.metrics(t) {
		if s, ok := strings.CutPrefix(k, "ovsmesh_pass_failures_total{subsystem=\""); ok {
			by[strings.TrimSuffix(s, "\"}")] = v
			sum += v
		}
	}
	return sum, by
}

// repairDuringStop deletes docker0's address and daemon.json while a daemon is
// stopped and waits until the loop has put both back.
func repairDuringStop(t *testing.T, c *cluster, host string, bound time.Duration) {
	t.Helper()
	plan := c.plan(host)
	daemonJSON := filepath.Join(c.dir, host, "daemon.json")
	hostRun(t, c, host, "ip", "addr", "del", plan.Docker.Address.String(), "dev", "docker0")
	if err := os.Remove(daemonJSON); err != nil {
		t.Fatal(err)
	}
	took, ok := poll(bound, func() bool {
		_, err := os.Stat(daemonJSON)
		return err == nil && strings.Contains(hostRun(t, c, host, "ip", "-4", "-o", "addr", "show", "dev", "docker0"), plan.Docker.Address.String())
	})
	if !ok {
		t.Errorf("docker0's address and daemon.json, removed while stopped, not both back within %v", bound)
		return
	}
	t.Logf("docker0's address and daemon.json, removed while stopped, back in %v", took.Round(time.Millisecond))
}

// TestLoopSurvivesStuckOVSDB: ovsdb-server stopped with SIGSTOP while the loop
// has something to write (a host added to the file): the OVSDB step fails
// within its timeout instead of holding the loop, the echo probe drops the dead
// connection, passes go on failing (metrics, /healthz 503), docker0 and the
// files are still repaired, and after SIGCONT everything converges.
func TestLoopSurvivesStuckOVSDB(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology(loopGRE, 2))
	c.mustApply("docker2")
	p := launchLoop(t, c, "docker1", loopOpts{args: []string{"--log-level", "debug"}, wait: true})
	loopBaseline(t, c, "docker1")
	h := c.host("docker1")
	dbPid, _ := h.Pids()
	before, _ := failures(t, p)
	passes := p.metric(t, "ovsmesh_passes_total")
	mark := p.mark()

	resume := stopDaemon(t, "ovsdb-server", dbPid)
	stopped := time.Now()
	// A third host: the next pass must send a transaction to the stuck server.
	grown := labTopology(loopGRE, 3)
	loopWriteFile(t, c.path, grown)
	// Once the file has settled (1 s), a pass sends the transaction and waits for
	// the answer: drift made now is repaired only once that call gave up.
	time.Sleep(3 * time.Second)
	repairDuringStop(t, c, "docker1", 30*time.Second)
	_, ok := poll(20*time.Second, func() bool {
		code, _, err := p.get("/healthz")
		n, _ := failures(t, p)
		return err == nil && code == http.StatusServiceUnavailable && n >= before+2
	})
	code, body := p.health(t)
	n, by := failures(t, p)
	t.Logf("%v after SIGSTOP: /healthz %d %q; failures %v; passes %v -> %v", time.Since(stopped).Round(time.Millisecond),
		code, body, by, passes, p.metric(t, "ovsmesh_passes_total"))
	if !ok {
		t.Errorf("with ovsdb-server stopped: /healthz %d and %v failed steps (from %v), want 503 and at least two more", code, n, before)
	}
	// The loop is not held: passes keep being made while the server is stopped.
	if got := p.metric(t, "ovsmesh_passes_total"); got < passes+2 {
		t.Errorf("passes went from %v to %v while ovsdb-server was stopped, want at least two more", passes, got)
	}
	var ovsdbErrs []string
	for _, l := range p.logs(t, mark, "reconcile step failed") {
		if l.Step == "ovsdb" {
			ovsdbErrs = append(ovsdbErrs, fmt.Sprintf("+%v %s", l.Time.Sub(stopped).Round(time.Millisecond), l.Err))
		}
	}
	t.Logf("OVSDB step failures while stopped:\n%s", strings.Join(ovsdbErrs, "\n"))
	if len(ovsdbErrs) == 0 {
		t.Errorf("no OVSDB step failure logged while ovsdb-server was stopped")
	}
	time.Sleep(time.Until(stopped.Add(15 * time.Second)))
	p.mustBeAlive(t)
	resume()
	resumed := time.Now()

	c.write(grown)
	want := c.plan("docker1")
	took, ok := poll(45*time.Second, func() bool {
		code, _, err := p.get("/healthz")
		s, serr := readHostState(c, "docker1", false)
		return err == nil && code == http.StatusOK && serr == nil && len(s.Flows) == len(want.Flows) &&
			slices.ContainsFunc(s.Rows, func(l string) bool { return strings.HasPrefix(l, "interface "+want.OVS.Tunnels[1].Name+" ") })
	})
	if !ok {
		code, body := p.health(t)
		t.Fatalf("not converged to the 3-host plan within %v of SIGCONT: /healthz %d %q", took, code, body)
	}
	t.Logf("converged to the 3-host plan %v after SIGCONT", took.Round(time.Millisecond))
	if l := p.logs(t, mark, "reconnected - restarting monitors"); len(l) > 0 {
		t.Logf("libovsdb reconnected %v after SIGCONT", l[len(l)-1].Time.Sub(resumed).Round(time.Millisecond))
	}
	loopBaseline(t, c, "docker1")
	p.stop(t)
}

// TestLoopSurvivesStuckVSwitchd: ovs-vswitchd stopped with SIGSTOP: the flows
// step fails within ovs-ofctl's timeout, docker0 and the files are still
// repaired, and after SIGCONT the loop is healthy again.
func TestLoopSurvivesStuckVSwitchd(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology(loopGRE, 2))
	c.mustApply("docker2")
	p := launchLoop(t, c, "docker1", loopOpts{wait: true})
	base := loopBaseline(t, c, "docker1")
	_, vsPid := c.host("docker1").Pids()
	_, by := failures(t, p)
	before := by["openflow"]
	passes := p.metric(t, "ovsmesh_passes_total")
	mark := p.mark()

	resume := stopDaemon(t, "ovs-vswitchd", vsPid)
	stopped := time.Now()
	readStuck(t, c.host("docker1").RunDir)
	repairDuringStop(t, c, "docker1", 30*time.Second)
	_, ok := poll(30*time.Second, func() bool {
		_, by := failures(t, p)
		return by["openflow"] >= before+2
	})
	_, by = failures(t, p)
	code, body := p.health(t)
	t.Logf("%v after SIGSTOP: /healthz %d %q; failures %v; passes %v -> %v", time.Since(stopped).Round(time.Millisecond),
		code, body, by, passes, p.metric(t, "ovsmesh_passes_total"))
	if !ok {
		t.Errorf("openflow failures went from %v to %v with ovs-vswitchd stopped, want two more", before, by["openflow"])
	}
	for _, l := range p.logs(t, mark, "reconcile step failed") {
		if l.Step == "openflow" {
			t.Logf("+%v openflow: %s", l.Time.Sub(stopped).Round(time.Millisecond), l.Err)
		}
	}
	time.Sleep(time.Until(stopped.Add(15 * time.Second)))
	p.mustBeAlive(t)
	resume()
	took, ok := poll(30*time.Second, func() bool {
		code, _, err := p.get("/healthz")
		return err == nil && code == http.StatusOK
	})
	if !ok {
		code, body := p.health(t)
		t.Fatalf("/healthz not 200 within %v of SIGCONT: %d %q", took, code, body)
	}
	t.Logf("healthy %v after SIGCONT", took.Round(time.Millisecond))
	loopWaitState(t, c, "docker1", base, 2*loopRepairBound, "state after ovs-vswitchd's stop")
	p.stop(t)
}

// rundirRunner runs OVS tools with OVS_RUNDIR set, as the loop inside a lab host
// has it.
type rundirRunner struct{ dir string }

func (r rundirRunner) Run(ctx context.Context, stdin io.Reader, name string, args ...string) ([]byte, error) {
	return openflow.ExecRunner{}.Run(ctx, stdin, "env", append([]string{"OVS_RUNDIR=" + r.dir, name}, args...)...)
}

// readStuck: reading the flow table of a stopped ovs-vswitchd (ovs-ofctl
// dump-flows) fails within the table's timeout even when the caller's context has
// no deadline.
func readStuck(t *testing.T, rundir string) {
	t.Helper()
	tbl := openflow.New("br0", slog.New(slog.DiscardHandler), openflow.WithTimeout(2*time.Second), openflow.WithRunner(rundirRunner{rundir}))
	start := time.Now()
	done := make(chan error, 1)
	go func() { _, err := tbl.Read(context.Background()); done <- err }()
	select {
	case err := <-done:
		t.Logf("dump-flows against the stopped ovs-vswitchd: %v after %v", err, time.Since(start).Round(time.Millisecond))
		if err == nil {
			t.Errorf("dump-flows against a stopped ovs-vswitchd succeeded")
		}
	case <-time.After(20 * time.Second):
		t.Errorf("dump-flows against a stopped ovs-vswitchd still waiting after 20s (timeout 2s)")
	}
}
