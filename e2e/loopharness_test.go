package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// The long-running mode (`apply --interval`, docs/cli): the loop runs as a
// process inside a lab host; its /metrics and /healthz are scraped from inside the
// host's namespace; the other hosts get one-shot passes.

const (
	loopInterval    = 2 * time.Second
	loopRepairBound = 2 * loopInterval // every repair must land within two intervals
	loopMetricsAddr = "127.0.0.1:9474" // in the host's own network namespace
	loopGRE         = "  encap: gre\n  mode: mesh\n"
	loopCookie      = "cookie=0x6f76736d657368/-1"
)

// loopProc is `ovsmesh apply --interval` running in a lab host.
type loopProc struct {
	host  string
	cmd   *exec.Cmd
	out   *testenv.Buffer
	http  *http.Client
	start time.Time
	done  chan struct{}
	err   error // Wait's result, once done is closed
}

// loopOpts says how launchLoop starts the loop. The defaults are file mode:
// `apply TOPOLOGY --interval 2s --metrics-addr ... --log-format json` with the
// cluster's files for the host.
type loopOpts struct {
	args   []string  // flags after the mode's own (a repeated flag wins: --interval 10m)
	fleet  *fleetLab // fleet mode: `apply --etcd ...` with the host's machine-id and view file, --interval 10s
	as     string    // fleet mode: the fleet host name when it is not the lab host's
	notify string    // NOTIFY_SOCKET for the loop; it then serves no /metrics
	wait   bool      // return once /healthz says a pass succeeded (within 20s, 30s in fleet mode)
}

// launchLoop starts `ovsmesh apply --interval` in lab host host's namespace. The
// process is killed (by its pid) when the test ends if it still runs, and its
// output is logged if the test failed.
func launchLoop(t *testing.T, c *cluster, host string, o loopOpts) *loopProc {
	t.Helper()
	h := c.host(host)
	name, argv := host, o.argv(c, host)
	if o.as != "" {
		name = o.as
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	p := &loopProc{host: name, out: &testenv.Buffer{}, done: make(chan struct{})}
	p.cmd = h.Command(ctx, argv...)
	if o.notify != "" {
		p.cmd.Env = append(p.cmd.Env, "NOTIFY_SOCKET="+o.notify)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.http = &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DialContext: loopDialNS(h.NS), DisableKeepAlives: true},
	}
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); cancel(); close(p.done) }()
	t.Cleanup(func() {
		if p.alive() {
			_ = p.cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("loop on %s (pid %d) still running 10s after SIGKILL", name, p.cmd.Process.Pid)
			}
		}
		if t.Failed() {
			t.Logf("loop on %s: output (tail):\n%s", name, tail(p.out.String(), 200))
		}
	})
	if o.wait {
		within := 20 * time.Second
		if o.fleet != nil {
			within = 30 * time.Second
		}
		p.waitHealthy(t, within)
	}
	return p
}

// argv is the loop's command line for o's mode.
func (o loopOpts) argv(c *cluster, host string) []string {
	var argv []string
	switch {
	case o.fleet != nil:
		f, name := o.fleet, host
		if o.as != "" {
			name = o.as
		}
		argv = append([]string{ovsmeshBin, "apply", "--host", name, "--db", c.host(host).DB(),
			"--interfaces", filepath.Join(f.dir, host, "interfaces"), "--daemon-json", filepath.Join(f.dir, host, "daemon.json"),
			"--address", c.host(host).Underlay.String(), "--machine-id-file", f.machineID(host), "--view-file", f.viewFile(host),
			"--interval", "10s", "--metrics-addr", loopMetricsAddr, "--log-format", "json"}, f.etcdFlags()...)
	case o.notify != "":
		argv = c.applyArgv(host, "--interval", loopInterval.String(), "--log-format", "json")
	default:
		argv = c.applyArgv(host, "--interval", loopInterval.String(), "--metrics-addr", loopMetricsAddr, "--log-format", "json")
	}
	return append(argv, o.args...)
}

// waitHealthy waits until /healthz says a pass succeeded, and checks that the
// pid is ovsmesh's own: `ip netns exec` execs the command, so the tests signal
// ovsmesh and read its /proc/PID/status.
func (p *loopProc) waitHealthy(t *testing.T, within time.Duration) {
	t.Helper()
	took, ok := poll(within, func() bool {
		code, _, err := p.get("/healthz")
		return (err == nil && code == http.StatusOK) || !p.alive()
	})
	p.mustBeAlive(t)
	if !ok {
		code, body, err := p.get("/healthz")
		t.Fatalf("loop on %s: /healthz not 200 within %v: %d %q %v", p.host, within, code, body, err)
	}
	t.Logf("loop on %s: healthy %v after start", p.host, took.Round(time.Millisecond))
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.pid())); err != nil || strings.TrimSpace(string(comm)) != "ovsmesh" {
		t.Fatalf("pid %d is %q (%v), want ovsmesh", p.pid(), comm, err)
	}
}

func (p *loopProc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *loopProc) pid() int { return p.cmd.Process.Pid }

// mustBeAlive fails the test if the process has exited.
func (p *loopProc) mustBeAlive(t *testing.T) {
	t.Helper()
	if !p.alive() {
		t.Fatalf("loop on %s exited: %v", p.host, p.err)
	}
}

// terminate sends SIGTERM, fails the test unless the loop exits within the
// bound, and returns its exit error.
func (p *loopProc) terminate(t *testing.T, within time.Duration) error {
	t.Helper()
	p.mustBeAlive(t)
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("loop on %s still running %v after SIGTERM", p.host, within)
	}
	t.Logf("loop on %s: exited %v after SIGTERM: %v", p.host, time.Since(sent).Round(time.Millisecond), p.err)
	return p.err
}

// stop terminates the loop and checks that it exits 0 within 2s, saying that
// it leaves the network as it is.
func (p *loopProc) stop(t *testing.T) {
	t.Helper()
	if err := p.terminate(t, 2*time.Second); err != nil {
		t.Errorf("loop on %s exited with %v after SIGTERM, want status 0", p.host, err)
	}
	if n := len(p.logs(t, 0, "reconcile loop stopped; the network is left as it is")); n != 1 {
		t.Errorf("loop on %s logged the stop %d times, want once", p.host, n)
	}
}

// get fetches path from the loop's metrics server, from inside its namespace.
func (p *loopProc) get(path string) (int, string, error) {
	resp, err := p.http.Get("http://" + loopMetricsAddr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// health returns /healthz's status and body.
func (p *loopProc) health(t *testing.T) (int, string) {
	t.Helper()
	code, body, err := p.get("/healthz")
	if err != nil {
		t.Fatalf("loop on %s: /healthz: %v", p.host, err)
	}
	return code, strings.TrimSpace(body)
}

// metrics returns every sample of /metrics by its name with labels, e.g.
// `ovsmesh_pass_failures_total{subsystem="docker0"}`.
func (p *loopProc) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	code, body, err := p.get("/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("loop on %s: /metrics: %d %v", p.host, code, err)
	}
	m := map[string]float64{}
	for line := range strings.SplitSeq(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("loop on %s: /metrics: bad line %q", p.host, line)
		}
		m[line[:i]] = v
	}
	return m
}

// metric returns one sample of /metrics; the sample must exist.
func (p *loopProc) metric(t *testing.T, name string) float64 {
	t.Helper()
	v, ok := p.metrics(t)[name]
	if !ok {
		t.Fatalf("loop on %s: /metrics has no %s", p.host, name)
	}
	return v
}

// loopLog is one JSON log line of the loop.
type loopLog struct {
	Time   time.Time `json:"time"`
	Level  string    `json:"level"`
	Msg    string    `json:"msg"`
	Step   string    `json:"step"`
	Change string    `json:"change"`
	Err    string    `json:"err"`
}

// lines returns the complete output lines so far.
func (p *loopProc) lines() []string {
	out := p.out.String()
	out = out[:strings.LastIndexByte(out, '\n')+1]
	if out == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

// mark returns the number of output lines so far, for logs(t, mark, ...).
func (p *loopProc) mark() int { return len(p.lines()) }

// logs returns the JSON log lines after the first from lines whose msg is msg.
// Output that is not JSON fails the test.
func (p *loopProc) logs(t *testing.T, from int, msg string) []loopLog {
	t.Helper()
	var out []loopLog
	for _, l := range p.lines()[from:] {
		if l == "" {
			continue
		}
		var e loopLog
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("loop on %s: output line is not JSON: %q", p.host, l)
		}
		if e.Msg == msg {
			out = append(out, e)
		}
	}
	return out
}

// loopDialNS dials from inside network namespace ns: the socket is created by a
// thread that entered ns and stays in ns after the thread is gone.
func loopDialNS(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			// Never unlocked: the thread, now in ns, exits with this goroutine.
			runtime.LockOSThread()
			fd, err := unix.Open(filepath.Join("/run/netns", ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				ch <- result{nil, fmt.Errorf("open namespace %s: %w", ns, err)}
				return
			}
			defer unix.Close(fd)
			if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
				ch <- result{nil, fmt.Errorf("enter namespace %s: %w", ns, err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// poll calls cond until it returns true (true, and how long that took) or
// within has passed (false); it waits 50ms between calls, or every if given.
func poll(within time.Duration, cond func() bool, every ...time.Duration) (time.Duration, bool) {
	pause := 50 * time.Millisecond
	if len(every) > 0 {
		pause = every[0]
	}
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > within {
			return time.Since(start), false
		}
		time.Sleep(pause)
	}
}
