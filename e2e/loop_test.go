package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/topology"
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
	out   *syncBuffer
	http  *http.Client
	start time.Time
	done  chan struct{}
	err   error // Wait's result, once done is closed
}

// syncBuffer collects a process's output while a test reads it; safe for
// concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// loopStart starts the loop on host and returns once /healthz says a pass
// succeeded. The process is killed (by its pid) when the test ends if it is still
// running.
func loopStart(t *testing.T, c *cluster, host string, extra ...string) *loopProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	p := &loopProc{host: host, out: &syncBuffer{}, done: make(chan struct{})}
	args := []string{"--interval", loopInterval.String(), "--metrics-addr", loopMetricsAddr, "--log-format", "json"}
	p.cmd = c.applyCmd(ctx, host, append(args, extra...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.http = &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DialContext: loopDialNS(c.host(host).NS), DisableKeepAlives: true},
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
				t.Errorf("loop on %s (pid %d) still running 10s after SIGKILL", host, p.cmd.Process.Pid)
			}
		}
		if t.Failed() {
			t.Logf("loop on %s: output:\n%s", host, p.out.String())
		}
	})
	took, ok := loopPoll(20*time.Second, func() bool {
		code, _, err := p.get("/healthz")
		return (err == nil && code == http.StatusOK) || !p.alive()
	})
	p.mustBeAlive(t)
	if !ok {
		code, body, err := p.get("/healthz")
		t.Fatalf("loop on %s: /healthz not 200 within 20s: %d %q %v", host, code, body, err)
	}
	t.Logf("loop on %s: healthy %v after start", host, took.Round(time.Millisecond))
	// `ip netns exec` execs the command: the pid is ovsmesh's own, which the test
	// signals and whose /proc/PID/status it reads.
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.pid())); err != nil || strings.TrimSpace(string(comm)) != "ovsmesh" {
		t.Fatalf("pid %d is %q (%v), want ovsmesh", p.pid(), comm, err)
	}
	return p
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

// stop sends SIGTERM and checks that the loop exits 0 within 2s, saying that it
// leaves the network as it is.
func (p *loopProc) stop(t *testing.T) {
	t.Helper()
	p.mustBeAlive(t)
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
		t.Fatalf("loop on %s still running 2s after SIGTERM", p.host)
	}
	t.Logf("loop on %s: exited %v after SIGTERM: %v", p.host, time.Since(sent).Round(time.Millisecond), p.err)
	if p.err != nil {
		t.Errorf("loop on %s exited with %v after SIGTERM, want status 0", p.host, p.err)
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

// loopPoll calls cond every 50ms until it returns true (true and how long it
// took) or within has passed (false).
func loopPoll(within time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > within {
			return time.Since(start), false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loopRun runs argv in host's namespace and fails the test on error.
func loopRun(t *testing.T, c *cluster, host string, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := c.host(host).Run(ctx, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// loopHostState is what ovsmesh manages on a host, as the tools see it.
type loopHostState struct {
	Interfaces []string // ovsmesh's interfaces: name,type,options,ofport,mtu_request,external_ids
	Flows      []string // flows with ovsmesh's cookie, without statistics
	Docker0    string   // kind, MAC, MTU, up
	Addrs      []string // docker0's IPv4 addresses
	BR0        string   // the OVS bridge's internal interface: master, MTU, up
}

func (s loopHostState) String() string {
	var b strings.Builder
	for _, l := range s.Interfaces {
		fmt.Fprintf(&b, "interface %s\n", l)
	}
	fmt.Fprintf(&b, "%d flows\n", len(s.Flows))
	for _, l := range s.Flows {
		fmt.Fprintf(&b, "flow %s\n", l)
	}
	fmt.Fprintf(&b, "docker0 %s addrs %v\nbr0 %s\n", s.Docker0, s.Addrs, s.BR0)
	return b.String()
}

// loopDiff lists the lines of want missing from got (-) and the extra ones (+).
func loopDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}

// loopReadState reads host's state. An error means something is missing (e.g.
// docker0) or a tool failed; the fields read before it are filled.
func loopReadState(c *cluster, host string) (loopHostState, error) {
	h := c.host(host)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var s loopHostState
	out, err := h.Run(ctx, "ovs-vsctl", "--db="+h.DB(), "--timeout=5", "--format=csv", "--data=bare", "--no-headings",
		"--columns=name,type,options,ofport,mtu_request,external_ids", "list", "interface")
	if err != nil {
		return s, err
	}
	for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, "ovsmesh-owner=") {
			s.Interfaces = append(s.Interfaces, l)
		}
	}
	slices.Sort(s.Interfaces)
	out, err = h.Run(ctx, "ovs-ofctl", "-O", "OpenFlow14", "--timeout=5", "dump-flows", "--no-stats", "br0", loopCookie)
	if err != nil {
		return s, err
	}
	for l := range strings.SplitSeq(out, "\n") {
		if strings.Contains(l, "actions=") {
			s.Flows = append(s.Flows, strings.TrimSpace(l))
		}
	}
	slices.Sort(s.Flows)
	type link struct {
		Address  string   `json:"address"`
		MTU      int      `json:"mtu"`
		Flags    []string `json:"flags"`
		Master   string   `json:"master"`
		LinkInfo struct {
			Kind string `json:"info_kind"`
		} `json:"linkinfo"`
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	read := func(argv ...string) (link, error) {
		var ls []link
		out, err := h.Run(ctx, argv...)
		if err != nil {
			return link{}, err
		}
		if err := json.Unmarshal([]byte(out), &ls); err != nil || len(ls) != 1 {
			return link{}, fmt.Errorf("%v: %d links, %v: %s", argv, len(ls), err, out)
		}
		return ls[0], nil
	}
	br, err := read("ip", "-j", "-d", "link", "show", "dev", "br0")
	if err != nil {
		return s, err
	}
	s.BR0 = fmt.Sprintf("master=%s mtu=%d up=%v", br.Master, br.MTU, slices.Contains(br.Flags, "UP"))
	d0, err := read("ip", "-j", "-d", "link", "show", "dev", "docker0")
	if err != nil {
		return s, err
	}
	s.Docker0 = fmt.Sprintf("kind=%s mac=%s mtu=%d up=%v", d0.LinkInfo.Kind, d0.Address, d0.MTU, slices.Contains(d0.Flags, "UP"))
	a, err := read("ip", "-j", "-4", "addr", "show", "dev", "docker0")
	if err != nil {
		return s, err
	}
	for _, ai := range a.AddrInfo {
		s.Addrs = append(s.Addrs, fmt.Sprintf("%s/%d", ai.Local, ai.PrefixLen))
	}
	slices.Sort(s.Addrs)
	return s, nil
}

// loopBaseline reads host's state and checks it against the plan.
func loopBaseline(t *testing.T, c *cluster, host string) loopHostState {
	t.Helper()
	s, err := loopReadState(c, host)
	if err != nil {
		t.Fatal(err)
	}
	plan := c.plan(host)
	if len(s.Flows) != len(plan.Flows) {
		t.Errorf("%s: %d flows with ovsmesh's cookie, want %d", host, len(s.Flows), len(plan.Flows))
	}
	if want := fmt.Sprintf("kind=bridge mac=%s mtu=%d up=true", plan.Docker.MAC, plan.Docker.MTU); s.Docker0 != want {
		t.Errorf("%s: docker0 %s, want %s", host, s.Docker0, want)
	}
	if !slices.Contains(s.Addrs, plan.Docker.Address.String()) {
		t.Errorf("%s: docker0 addresses %v, want %s among them", host, s.Addrs, plan.Docker.Address)
	}
	if want := fmt.Sprintf("master=docker0 mtu=%d up=true", plan.Docker.MTU); s.BR0 != want {
		t.Errorf("%s: br0 %s, want %s", host, s.BR0, want)
	}
	for _, tu := range plan.OVS.Tunnels {
		if !slices.ContainsFunc(s.Interfaces, func(l string) bool {
			// The options field holds local_ip and remote_ip, in that order.
			return strings.HasPrefix(l, fmt.Sprintf("%s,%s,", tu.Name, tu.Type)) &&
				strings.Contains(l, fmt.Sprintf("remote_ip=%s,%d,", tu.RemoteIP, tu.OFPort)) &&
				strings.Contains(l, "local_ip="+tu.LocalIP.String())
		}) {
			t.Errorf("%s: tunnel %s to %s (ofport %d) missing from %q", host, tu.Name, tu.RemoteIP, tu.OFPort, s.Interfaces)
		}
	}
	return s
}

// loopWaitUntil polls host's state until ok accepts it and returns how long that
// took; it fails the test (showing the last state) unless that happens within
// bound.
func loopWaitUntil(t *testing.T, c *cluster, host string, bound time.Duration, what string, ok func(s loopHostState, err error) bool) time.Duration {
	t.Helper()
	var last loopHostState
	var lastErr error
	took, done := loopPoll(bound, func() bool {
		last, lastErr = loopReadState(c, host)
		return ok(last, lastErr)
	})
	if !done {
		t.Errorf("%s: %s: not within %v: %v\n%s", host, what, bound, lastErr, last)
	} else {
		t.Logf("%s: %s: %v", host, what, took.Round(time.Millisecond))
	}
	return took
}

// loopWaitState waits until host's state is want again (see loopWaitUntil).
func loopWaitState(t *testing.T, c *cluster, host string, want loopHostState, bound time.Duration, what string) time.Duration {
	t.Helper()
	var last loopHostState
	var lastErr error
	took, done := loopPoll(bound, func() bool {
		last, lastErr = loopReadState(c, host)
		return lastErr == nil && last.String() == want.String()
	})
	if !done {
		t.Errorf("%s: %s not repaired within %v: %v\n%s", host, what, bound, lastErr, loopDiff(want.String(), last.String()))
	} else {
		t.Logf("%s: %s repaired in %v", host, what, took.Round(time.Millisecond))
	}
	return took
}

// loopWaitPing polls until ct gets a reply from dst and returns how long it took.
func loopWaitPing(t *testing.T, ct *lab.Container, dst netip.Addr, bound time.Duration) time.Duration {
	t.Helper()
	var err error
	took, ok := loopPoll(bound, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = ct.Ping(ctx, dst, 56, false)
		return err == nil
	})
	if !ok {
		t.Errorf("%s -> %s: no reply within %v: %v", ct.Name, dst, bound, err)
	}
	return took
}

// loopWriteFile replaces path atomically (a pass never reads half a file).
func loopWriteFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestLoopSurvivesOVSRestarts: the loop outlives a restart of ovsdb-server (it
// reconnects and repairs drift again) and of ovs-vswitchd (it re-pushes the flows
// the daemon lost).
func TestLoopSurvivesOVSRestarts(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology(loopGRE, 2))
	c.mustApply("docker2")
	// At debug level the log shows when libovsdb reconnects.
	p := loopStart(t, c, "docker1", "--log-level", "debug")
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
		noticed, ok := loopPoll(loopInterval, func() bool {
			return len(p.logs(t, mark, "failed to reconnect")) > 0 ||
				slices.ContainsFunc(p.logs(t, mark, "reconcile step failed"), func(l loopLog) bool { return l.Step == "ovsdb" })
		})
		if !ok {
			t.Errorf("the lost ovsdb-server connection was not logged within %v", noticed)
		} else {
			t.Logf("lost connection logged %v after the stop", noticed.Round(time.Millisecond))
		}
		t.Run("while it is down, the docker0 step still runs", func(t *testing.T) {
			loopRun(t, c, "docker1", "ip", "addr", "del", plan.Docker.Address.String(), "dev", "docker0")
			took, ok := loopPoll(loopRepairBound, func() bool {
				return strings.Contains(loopRun(t, c, "docker1", "ip", "-4", "-o", "addr", "show", "dev", "docker0"), plan.Docker.Address.String())
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
		passed, ok := loopPoll(loopRepairBound, func() bool {
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
		loopWaitPing(t, c1, addr(c2.Addr), 15*time.Second)
		loopWaitPing(t, c2, addr(c1.Addr), 15*time.Second)
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
		if s, err := loopReadState(c, "docker1"); err == nil {
			t.Logf("right after the restart (%v): %d flows, br0 %s", restarted.Sub(begin).Round(time.Millisecond), len(s.Flows), s.BR0)
		}
		took := loopWaitState(t, c, "docker1", base, loopRepairBound, "ovs-vswitchd restart")
		t.Logf("flows and br0 restored %v after the restart began, %v after ovs-vswitchd was up again",
			time.Since(begin).Round(time.Millisecond), took.Round(time.Millisecond))
		agg := loopRun(t, c, "docker1", "ovs-ofctl", "-O", "OpenFlow14", "dump-aggregate", "br0", loopCookie)
		if want := fmt.Sprintf("flow_count=%d", len(plan.Flows)); !strings.Contains(agg, want) {
			t.Errorf("dump-aggregate: %q, want %s", agg, want)
		}
		if out := loopRun(t, c, "docker1", "ip", "-d", "link", "show", "br0"); !strings.Contains(out, "master docker0") {
			t.Errorf("br0 is not enslaved to docker0: %s", out)
		}
		// Only ovsmesh puts the flows back: its log and its metrics say it did.
		if n := len(slices.DeleteFunc(p.logs(t, mark, "change"), func(l loopLog) bool { return l.Step != "openflow" })); n == 0 {
			t.Errorf("no openflow change logged after the ovs-vswitchd restart")
		}
		if got := p.metric(t, `ovsmesh_drift_repairs_total{kind="openflow"}`); got <= repairs {
			t.Errorf(`ovsmesh_drift_repairs_total{kind="openflow"} went from %v to %v, want it to grow`, repairs, got)
		}
		loopWaitPing(t, c1, addr(c2.Addr), 15*time.Second)
		loopWaitPing(t, c2, addr(c1.Addr), 15*time.Second)
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
	p := loopStart(t, c, "docker1")
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
		settled, ok := loopPoll(6*loopInterval, func() bool { return p.metric(t, "ovsmesh_topology_load_errors_total") > errs })
		if !ok {
			t.Fatalf("no load error within %v of writing the bad file", settled)
		}
		errs, passes = p.metric(t, "ovsmesh_topology_load_errors_total")-1, p.metric(t, "ovsmesh_passes_total")-1
		took, ok := loopPoll(6*loopInterval, func() bool { return p.metric(t, "ovsmesh_passes_total") >= passes+4 })
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
		s, err := loopReadState(c, "docker1")
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
		loopWaitUntil(t, c, "docker1", loopRepairBound, "fixed file without docker3 applied", func(s loopHostState, err error) bool {
			return err == nil && len(s.Flows) == len(plan.Flows) &&
				!slices.ContainsFunc(s.Interfaces, func(l string) bool { return strings.HasPrefix(l, "gre-docker3,") })
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
	p := loopStart(t, c, "docker1")
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
	if out := loopRun(t, c, "docker1", "ip", "-d", "link", "show", "docker0"); !strings.Contains(out, "veth") {
		t.Fatalf("docker0 is not a veth: %s", out)
	}
	took, ok := loopPoll(3*loopInterval, func() bool { return p.metric(t, failures) >= f0+2 })
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
		loopWaitUntil(t, c, "docker1", loopRepairBound, "tunnel deleted by hand while docker0 fails: repaired", func(s loopHostState, _ error) bool {
			return slices.Equal(s.Interfaces, base.Interfaces)
		})
	})
	t.Run("the openflow step still repairs", func(t *testing.T) {
		loopRun(t, c, "docker1", "ovs-ofctl", "-O", "OpenFlow14", "del-flows", "br0", loopCookie)
		loopWaitUntil(t, c, "docker1", loopRepairBound, "flows deleted by hand while docker0 fails: repaired", func(s loopHostState, _ error) bool {
			return slices.Equal(s.Flows, base.Flows)
		})
	})
	t.Run("the next pass after the veth is gone recreates docker0", func(t *testing.T) {
		t.Logf("%s: %v -> %v while docker0 was a veth", failures, f0, p.metric(t, failures))
		loopRun(t, c, "docker1", "ip", "link", "del", "docker0")
		loopWaitState(t, c, "docker1", base, loopRepairBound, "docker0 veth removed: bridge recreated")
		took, ok := loopPoll(loopInterval, func() bool { code, _ := p.health(t); return code == http.StatusOK })
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
	p := loopStart(t, c, "docker1")
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
		loopRun(t, c, "docker1", d.argv...)
		var last loopHostState
		var lastErr error
		took, ok := loopPoll(loopRepairBound, func() bool {
			last, lastErr = loopReadState(c, "docker1")
			return lastErr == nil && last.String() == base.String()
		})
		if !ok {
			t.Fatalf("injection %d (%s, at +%v) not repaired within two intervals: %v\n%s", n+1, d.name,
				time.Since(start).Round(time.Millisecond), lastErr, loopDiff(base.String(), last.String()))
		}
		times[d.name] = append(times[d.name], took)
		if first == nil && time.Since(p.start) >= 5*time.Second {
			s := take()
			first = &s
		}
	}
	end := take()
	elapsed := time.Since(start)
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
	// each) would exceed the slack, which covers what may be in flight when a
	// sample is taken (the scrape's own connection, an exec'd ovs-ofctl's pipe
	// copiers, a libovsdb transaction).
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
