package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// TestIdempotence proves that a converged pass writes nothing (README, What apply does) on a 3-host GRE mesh: once a host
// matches the plan, a pass sends no OVSDB write transaction, no flow
// modification, no netlink change and writes no file. Each detector is shown to
// work by a pass after a drift, which it must see. It also checks --dry-run on a
// fresh host (creates nothing) and on a converged one (nothing to change).
func TestIdempotence(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n  mode: mesh\n", 3))
	hosts := []string{"docker1", "docker2", "docker3"}
	logs := map[string]*idemOVSDBLog{}
	for _, h := range hosts {
		logs[h] = idemJSONRPCLog(t, c, h)
	}

	fresh := "docker1"
	mark := logs[fresh].mark(t)
	dryOut, dryErr := c.apply(fresh, "--dry-run")
	t.Logf("dry run on fresh %s: %v\n%s", fresh, dryErr, dryOut)
	t.Run("dry run on a fresh host creates nothing", func(t *testing.T) {
		if tx := logs[fresh].transacts(t, mark); len(tx) != 0 {
			t.Errorf("dry run sent %d OVSDB transact requests, want none:\n%s", len(tx), strings.Join(tx, "\n"))
		}
		if got := c.vsctl(fresh, "list-br"); got != lab.PhysBridge {
			t.Errorf("bridges after the dry run: %q, want only %s (the lab's)", got, lab.PhysBridge)
		}
		if idemLinkExists(t, c, fresh, "docker0") {
			t.Errorf("docker0 exists after the dry run")
		}
		for _, f := range idemFiles(c, fresh) {
			if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s after the dry run: %v, want it not to exist", f, err)
			}
		}
		for _, want := range []string{"ovsdb: create bridge br0", "ovsdb: create port gre-docker2", "docker0: create bridge docker0",
			"files: write " + idemFiles(c, fresh)[0], "files: write " + idemFiles(c, fresh)[1]} {
			if !slices.ContainsFunc(idemChanges(dryOut), func(l string) bool { return strings.HasPrefix(l, want) }) {
				t.Errorf("the dry run does not list %q", want)
			}
		}
	})

	first := map[string]string{}
	for _, h := range hosts {
		mark := logs[h].mark(t)
		out, err := c.apply(h)
		if err != nil {
			t.Fatalf("first apply on %s: %v\n%s", h, err, out)
		}
		first[h] = out
		// Positive control of the OVSDB detector, and one transaction per pass (README, What apply does).
		if tx := logs[h].transacts(t, mark); len(tx) != 1 {
			t.Errorf("first apply on %s: ovsdb-server received %d transact requests from ovsmesh, want exactly 1:\n%s", h, len(tx), strings.Join(tx, "\n"))
		}
	}

	t.Run("dry run on a fresh host lists what the first pass did", func(t *testing.T) {
		got, want := idemChanges(dryOut), idemChanges(first[fresh])
		if strings.Contains(dryOut, "failed:") {
			t.Errorf("dry run on a fresh host failed (%v):\n%s", dryErr, dryOut)
		}
		for _, ch := range want {
			if !slices.Contains(got, ch) {
				t.Errorf("the first pass made a change the dry run did not list: %s", ch)
			}
		}
		if s := fmt.Sprintf("%s: would change %d (dry run: nothing changed)", fresh, len(got)); !strings.Contains(dryOut, s) {
			t.Errorf("dry run output lacks %q:\n%s", s, dryOut)
		}
	})

	t.Run("dry run on a converged host changes nothing", func(t *testing.T) {
		w := idemStart(t, c, "docker2", logs["docker2"])
		out, err := c.apply("docker2", "--dry-run")
		seen := w.end(t)
		if err != nil || !strings.Contains(out, "docker2: matches the plan, nothing to change") || len(idemChanges(out)) != 0 {
			t.Errorf("dry run on converged docker2: %v\n%s", err, out)
		}
		seen.wantNothing(t)
	})

	for _, h := range hosts {
		t.Run("second pass on "+h+" writes nothing", func(t *testing.T) {
			w := idemStart(t, c, h, logs[h])
			out, err := c.apply(h)
			seen := w.end(t)
			if err != nil {
				t.Errorf("second apply on %s: %v", h, err)
			}
			if !strings.Contains(out, h+": matches the plan, nothing to change") || len(idemChanges(out)) != 0 {
				t.Errorf("second apply on %s printed:\n%s\nwant no change and %q", h, out, "nothing to change")
			}
			seen.wantNothing(t)
		})
	}

	// Positive control of every detector: the same observation around a pass
	// that repairs a drift in each subsystem sees each repair.
	t.Run("the detectors see a repairing pass", func(t *testing.T) {
		h, ns := "docker3", c.host("docker3").NS
		tun := c.plan(h).OVS.Tunnels[0].Name
		c.vsctl(h, "set", "interface", tun, "options:remote_ip=198.18.0.99")
		c.ofctl(h, "--strict", "del-flows", "br0", "table=2,priority=1")
		idemIP(t, "-n", ns, "link", "set", "docker0", "mtu", "1400")
		dj := idemFiles(c, h)[1]
		if err := os.WriteFile(dj, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		w := idemStart(t, c, h, logs[h])
		out, err := c.apply(h)
		seen := w.end(t)
		if err != nil {
			t.Fatalf("repairing apply on %s: %v\n%s", h, err, out)
		}
		t.Logf("repairing pass on %s:\n%s\nseen: %+v", h, strings.Join(idemChanges(out), "\n"), seen)
		if len(seen.transacts) != 1 {
			t.Errorf("repairing pass: %d transact requests, want 1", len(seen.transacts))
		}
		if !slices.ContainsFunc(seen.flowMods, func(l string) bool { return strings.Contains(l, "table=2") }) {
			t.Errorf("repairing pass: the flow monitor did not see table 2's flow come back: %q", seen.flowMods)
		}
		if !slices.ContainsFunc(seen.linkEvents, func(l string) bool { return strings.Contains(l, "docker0") && strings.Contains(l, "mtu 1462") }) {
			t.Errorf("repairing pass: ip monitor did not see docker0's MTU change: %q", seen.linkEvents)
		}
		if !slices.ContainsFunc(seen.fileWrites, func(l string) bool { return strings.Contains(l, dj) }) {
			t.Errorf("repairing pass: %s was not seen rewritten: %q", dj, seen.fileWrites)
		}
		// And then it is converged again.
		w = idemStart(t, c, h, logs[h])
		out, err = c.apply(h)
		seen = w.end(t)
		if err != nil || len(idemChanges(out)) != 0 {
			t.Errorf("apply after the repair on %s: %v\n%s", h, err, out)
		}
		seen.wantNothing(t)
	})
}

// idemFiles returns the interfaces and daemon.json files of host.
func idemFiles(c *cluster, host string) []string {
	return []string{filepath.Join(c.dir, host, "interfaces"), filepath.Join(c.dir, host, "daemon.json")}
}

// idemChangeRE matches a change line of apply's output: "STEP:   CHANGE".
var idemChangeRE = regexp.MustCompile(`(?m)^(ovsdb|docker0|openflow|files):\s+(.*)$`)

// idemChanges returns the change lines of apply's output as "step: change".
func idemChanges(out string) []string {
	var lines []string
	for _, m := range idemChangeRE.FindAllStringSubmatch(out, -1) {
		lines = append(lines, m[1]+": "+strings.TrimSpace(m[2]))
	}
	return lines
}

// idemExitCode is a command's exit status (-1 when it did not exit).
func idemExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// idemIP runs ip(8) in the root namespace (with -n NS for a host).
func idemIP(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// idemLinkExists reports whether host's namespace has a link named name.
func idemLinkExists(t *testing.T, c *cluster, host, name string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "-n", c.host(host).NS, "-o", "link", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip link show: %v: %s", err, out)
	}
	return regexp.MustCompile(`(?m)^\d+: ` + regexp.QuoteMeta(name) + `[:@]`).Match(out)
}

// idemOVSDBLog is a host's ovsdb-server log with the jsonrpc debug log on.
type idemOVSDBLog struct{ path string }

// idemJSONRPCLog turns on the jsonrpc debug log of host's ovsdb-server, which
// then logs every request it receives.
func idemJSONRPCLog(t *testing.T, c *cluster, host string) *idemOVSDBLog {
	t.Helper()
	h := c.host(host)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := h.Run(ctx, "ovs-appctl", "-t", "ovsdb-server", "vlog/set", "jsonrpc:file:dbg"); err != nil {
		t.Fatal(err)
	}
	return &idemOVSDBLog{path: filepath.Join(h.RunDir, "ovsdb-server.log")}
}

// mark returns the log's current size, for transacts.
func (l *idemOVSDBLog) mark(t *testing.T) int64 {
	t.Helper()
	st, err := os.Stat(l.path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// idemTransactRE matches ovsdb-server's debug log of a transact request.
var idemTransactRE = regexp.MustCompile(`(?m)\|jsonrpc\|DBG\|\S+: received request, method="transact", params=.*$`)

// transacts returns the transact requests logged since mark, except those of
// ovs-vswitchd, which writes statistics and status on its own: every one of its
// transactions asserts its "ovs_vswitchd" lock. Nothing else but the ovsmesh
// pass under test talks to the database while a test observes it.
func (l *idemOVSDBLog) transacts(t *testing.T, mark int64) []string {
	t.Helper()
	b, err := os.ReadFile(l.path)
	if err != nil {
		t.Fatal(err)
	}
	var tx []string
	for _, line := range idemTransactRE.FindAllString(string(b[mark:]), -1) {
		if !strings.Contains(line, `"ovs_vswitchd"`) {
			tx = append(tx, line)
		}
	}
	return tx
}

// idemPoll calls f every 50ms until it returns true or d has passed.
func idemPoll(d time.Duration, f func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if f() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// idemWatcher is a monitoring command (ip monitor, ovs-ofctl monitor) running
// in the background.
type idemWatcher struct {
	cmd  *exec.Cmd
	out  syncBuffer
	done chan struct{}
}

func idemStartWatcher(t *testing.T, cmd *exec.Cmd) *idemWatcher {
	t.Helper()
	w := &idemWatcher{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &w.out, &w.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(w.done) }()
	t.Cleanup(w.kill)
	return w
}

// kill ends the command by its pid and waits for it.
func (w *idemWatcher) kill() {
	_ = w.cmd.Process.Kill()
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
	}
}

// idemLinkWatch records the link and address events of a host's namespace.
type idemLinkWatch struct {
	*idemWatcher
	ns   string
	from int // start of the observed events in the output
}

// idemLinkwatchDelay bounds how late the kernel reports a link's carrier and
// operational state changes (linkwatch runs at most once a second).
const idemLinkwatchDelay = 1100 * time.Millisecond

var idemMarkers int

var idemMarkersMu sync.Mutex

// idemFwdDelayRE matches a bridge port whose forward delay timer runs.
var idemFwdDelayRE = regexp.MustCompile(`forward_delay_timer +(0\.0[1-9]|0\.[1-9]\d|[1-9]\d*\.\d\d)`)

// idemWatchLinks starts `ip monitor link address` on host and returns once it
// listens and the namespace is quiet: no tentative IPv6 address (DAD reports
// later), no bridge port forward delay timer running, and no event for longer than the kernel's linkwatch delay.
func idemWatchLinks(t *testing.T, c *cluster, host string) *idemLinkWatch {
	t.Helper()
	ns := c.host(host).NS
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	w := &idemLinkWatch{idemWatcher: idemStartWatcher(t, exec.CommandContext(ctx, "ip", "-n", ns, "monitor", "link", "address")), ns: ns}
	if !idemPoll(10*time.Second, func() bool { return idemIP(t, "-n", ns, "-6", "addr", "show", "tentative") == "" }) {
		t.Fatalf("%s still has tentative IPv6 addresses after 10s", host)
	}
	// The kernel notifies a bridge port once more when its forward delay
	// timer expires, 15s after it joined docker0, even with STP off.
	if !idemPoll(20*time.Second, func() bool { return !idemFwdDelayRE.MatchString(idemIP(t, "-n", ns, "-d", "link", "show")) }) {
		t.Fatalf("the forward delay timers of %s's bridge ports still run after 20s", host)
	}
	w.marker(t)
	n := -1
	if !idemPoll(15*time.Second, func() bool {
		l := len(w.out.String())
		if l != n {
			n = l
			time.Sleep(idemLinkwatchDelay)
			return len(w.out.String()) == l
		}
		return true
	}) {
		t.Fatalf("the link events of %s did not settle in 15s:\n%s", host, w.out.String())
	}
	w.from = n
	return w
}

// marker creates and deletes a veth pair in the namespace and returns the offset
// at which its first event starts in the output: every event that happened
// before comes before it.
func (w *idemLinkWatch) marker(t *testing.T) int {
	t.Helper()
	idemMarkersMu.Lock()
	idemMarkers++
	name := fmt.Sprintf("idm%d", idemMarkers)
	idemMarkersMu.Unlock()
	idemIP(t, "-n", w.ns, "link", "add", name, "type", "veth", "peer", "name", name+"p")
	idemIP(t, "-n", w.ns, "link", "del", name)
	re := regexp.MustCompile(`(?m)^.*\b` + name + `p?[:@]`)
	at := -1
	if !idemPoll(10*time.Second, func() bool {
		out := w.out.String()
		if loc := re.FindStringIndex(out[w.from:]); loc != nil {
			at = w.from + loc[0]
			return true
		}
		return false
	}) {
		t.Fatalf("ip monitor in %s did not report the marker link %s in 10s:\n%s", w.ns, name, w.out.String())
	}
	return at
}

// stop returns the events recorded since idemWatchLinks returned (waiting for
// late ones first) and ends the monitor.
func (w *idemLinkWatch) stop(t *testing.T) []string {
	t.Helper()
	time.Sleep(idemLinkwatchDelay)
	end := w.marker(t)
	events := w.out.String()[w.from:end]
	w.kill()
	return idemLines(events)
}

func idemLines(s string) []string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimRight(l, " "))
		}
	}
	return lines
}

// idemFlowWatch records the flow table modifications of a host's br0 (an
// OpenFlow flow monitor: ovs-vswitchd reports every flow added, modified or
// deleted, also one replaced by an identical add).
type idemFlowWatch struct {
	*idemWatcher
	c    *cluster
	host string
}

// idemMarkerCookie marks the flow that ends a flow monitor's observation.
const idemMarkerCookie = "0x1de"

func idemWatchFlows(t *testing.T, c *cluster, host string) *idemFlowWatch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	w := &idemFlowWatch{idemWatcher: idemStartWatcher(t, c.host(host).Command(ctx, "ovs-ofctl", "monitor", "br0", "watch:")), c: c, host: host}
	// The reply with the current flows comes first; updates follow it.
	if !idemPoll(10*time.Second, func() bool { return strings.Contains(w.out.String(), "NXST_FLOW_MONITOR reply") }) {
		t.Fatalf("ovs-ofctl monitor on %s did not start in 10s:\n%s", host, w.out.String())
	}
	return w
}

// stop adds and deletes a marker flow, waits for it to be reported, and returns
// the updates reported before it.
func (w *idemFlowWatch) stop(t *testing.T) []string {
	t.Helper()
	w.c.ofctl(w.host, "add-flow", "br0", "cookie="+idemMarkerCookie+",table=250,priority=0,actions=drop")
	defer w.c.ofctl(w.host, "del-flows", "br0", "cookie="+idemMarkerCookie+"/-1")
	marker := regexp.MustCompile(`\bcookie=` + idemMarkerCookie + `(\s|$)`)
	if !idemPoll(10*time.Second, func() bool { return marker.MatchString(w.out.String()) }) {
		t.Fatalf("ovs-ofctl monitor on %s did not report the marker flow in 10s:\n%s", w.host, w.out.String())
	}
	defer w.kill()
	// Updates come in replies with xid 0; the first reply (the flows present
	// when the monitor started) has the request's xid.
	var events []string
	update := false
	for _, l := range idemLines(w.out.String()) {
		switch {
		case strings.HasPrefix(l, "NXST_FLOW_MONITOR reply"):
			update = strings.Contains(l, "(xid=0x0)")
		case marker.MatchString(l):
			return events
		case update:
			events = append(events, strings.TrimSpace(l))
		}
	}
	return events
}

// idemCounterRE matches the fields of a dumped flow that change with time and
// traffic.
var idemCounterRE = regexp.MustCompile(`\b(duration|n_packets|n_bytes|idle_age|hard_age)=[^,]*, ?`)

var idemDurationRE = regexp.MustCompile(`\bduration=([0-9.]+)s`)

// idemFlows dumps br0's flows (every cookie) and returns each flow, without its
// counters, with its duration in seconds.
func idemFlows(t *testing.T, c *cluster, host string) map[string]float64 {
	t.Helper()
	flows := map[string]float64{}
	for _, l := range strings.Split(c.ofctl(host, "dump-flows", "br0"), "\n") {
		m := idemDurationRE.FindStringSubmatch(l)
		if m == nil || learnedFlow(l) {
			continue
		}
		d, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatalf("flow %q: %v", l, err)
		}
		flows[strings.TrimSpace(idemCounterRE.ReplaceAllString(l, ""))] = d
	}
	return flows
}

// idemFileInfo identifies one version of a file: a rename puts a new inode in
// place and any write moves mtime and ctime (nanoseconds).
type idemFileInfo struct {
	exists       bool
	ino          uint64
	size         int64
	mtime, ctime syscall.Timespec
}

func idemStat(t *testing.T, path string) idemFileInfo {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return idemFileInfo{}
		}
		t.Fatal(err)
	}
	return idemFileInfo{exists: true, ino: st.Ino, size: st.Size, mtime: st.Mtim, ctime: st.Ctim}
}

// idemWindow observes one host while a pass runs.
type idemWindow struct {
	c       *cluster
	host    string
	log     *idemOVSDBLog
	logMark int64
	links   *idemLinkWatch
	flows   *idemFlowWatch
	files   map[string]idemFileInfo
	before  map[string]float64
	dumped  time.Time // when the flows were dumped (after the dump returned)
}

// idemSeen is what a window saw.
type idemSeen struct {
	transacts  []string // OVSDB transact requests other than ovs-vswitchd's
	flowMods   []string // flow monitor updates
	linkEvents []string // ip monitor events
	fileWrites []string // files whose inode, size or times changed
	flowResets []string // flows whose duration went back (replaced)
	flowsGone  []string // flows present before and missing after
	flowsNew   []string // flows missing before and present after
}

// idemStart starts observing host; end stops and returns what was seen.
func idemStart(t *testing.T, c *cluster, host string, log *idemOVSDBLog) *idemWindow {
	t.Helper()
	w := &idemWindow{c: c, host: host, log: log, files: map[string]idemFileInfo{}}
	w.links = idemWatchLinks(t, c, host)
	w.flows = idemWatchFlows(t, c, host)
	for _, f := range idemFiles(c, host) {
		w.files[f] = idemStat(t, f)
	}
	w.before = idemFlows(t, c, host)
	w.dumped = time.Now()
	w.logMark = log.mark(t)
	return w
}

func (w *idemWindow) end(t *testing.T) idemSeen {
	t.Helper()
	var s idemSeen
	s.transacts = w.log.transacts(t, w.logMark)
	start := time.Now()
	after := idemFlows(t, w.c, w.host)
	// At least this much time passed between the two dumps: a flow that was
	// not replaced is at least this much older.
	minGrowth := start.Sub(w.dumped).Seconds() - 0.002
	for f, d := range w.before {
		da, ok := after[f]
		switch {
		case !ok:
			s.flowsGone = append(s.flowsGone, f)
		case da < d || da-d < minGrowth:
			s.flowResets = append(s.flowResets, fmt.Sprintf("%s: duration %.3fs, then %.3fs %.3fs later", f, d, da, minGrowth))
		}
	}
	for f := range after {
		if _, ok := w.before[f]; !ok {
			s.flowsNew = append(s.flowsNew, f)
		}
	}
	s.flowMods = w.flows.stop(t)
	for f, before := range w.files {
		if now := idemStat(t, f); now != before {
			s.fileWrites = append(s.fileWrites, fmt.Sprintf("%s: %+v, then %+v", f, before, now))
		}
	}
	s.linkEvents = w.links.stop(t)
	return s
}

// wantNothing fails the test unless nothing was written.
func (s idemSeen) wantNothing(t *testing.T) {
	t.Helper()
	for _, c := range []struct {
		what string
		got  []string
	}{
		{"OVSDB transact requests", s.transacts},
		{"flow modifications (ovs-ofctl monitor)", s.flowMods},
		{"flows whose duration was reset", s.flowResets},
		{"flows removed", s.flowsGone},
		{"flows added", s.flowsNew},
		{"link or address events (ip monitor)", s.linkEvents},
		{"files written", s.fileWrites},
	} {
		if len(c.got) > 0 {
			t.Errorf("%d %s, want none:\n%s", len(c.got), c.what, strings.Join(c.got, "\n"))
		}
	}
}
