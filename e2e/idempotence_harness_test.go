package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// idemFiles returns the interfaces and daemon.json files of host.
func idemFiles(c *cluster, host string) []string {
	return []string{filepath.Join(c.dir, host, "interfaces"), c.daemonJSON(host)}
}

// idemChangeRE matches a change line of apply's output: "STEP:   CHANGE".
var idemChangeRE = regexp.MustCompile(`(?m)^(ovsdb|docker0|openflow|files|firewall):\s+(.*)$`)

// idemChanges returns the change lines of apply's output as "step: change".
func idemChanges(out string) []string {
	var lines []string
	for _, m := range idemChangeRE.FindAllStringSubmatch(out, -1) {
		lines = append(lines, m[1]+": "+strings.TrimSpace(m[2]))
	}
	return lines
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

// ovsdbLog is a host's ovsdb-server log with the jsonrpc debug log on, where a
// request reads "…|jsonrpc|DBG|unix#7: received request, method="transact", params=[…]".
type ovsdbLog struct{ path string }

// rpcLog turns on the jsonrpc debug log of host's ovsdb-server, which then logs
// every request it receives.
func rpcLog(t *testing.T, c *cluster, host string) *ovsdbLog {
	t.Helper()
	h := c.host(host)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := h.Run(ctx, "ovs-appctl", "-t", "ovsdb-server", "vlog/set", "jsonrpc:file:dbg"); err != nil {
		t.Fatal(err)
	}
	return &ovsdbLog{path: filepath.Join(h.RunDir, "ovsdb-server.log")}
}

// mark returns the log's current size, for read.
func (l *ovsdbLog) mark(t *testing.T) int64 {
	t.Helper()
	st, err := os.Stat(l.path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// rpcRequests is what the log says about the clients' requests after a mark.
type rpcRequests struct {
	// transacts are the transact requests, except those of ovs-vswitchd, which
	// writes statistics and status on its own: every one of its transactions
	// asserts its "ovs_vswitchd" lock. Nothing else but the ovsmesh pass under
	// test talks to the database while a test observes it.
	transacts []string
	// clients are the connections ("unix#7") that sent any request.
	clients map[string]bool
}

// read returns the requests logged since mark (0: the whole log).
func (l *ovsdbLog) read(t *testing.T, mark int64) rpcRequests {
	t.Helper()
	b, err := os.ReadFile(l.path)
	if err != nil {
		t.Fatal(err)
	}
	r := rpcRequests{clients: map[string]bool{}}
	for line := range strings.SplitSeq(string(b[mark:]), "\n") {
		_, rest, ok := strings.Cut(line, "|jsonrpc|DBG|")
		if !ok {
			continue
		}
		client, req, ok := strings.Cut(rest, ": received request, method=")
		if !ok {
			continue
		}
		r.clients[client] = true
		if strings.HasPrefix(req, `"transact"`) && !strings.Contains(req, `"ovs_vswitchd"`) {
			r.transacts = append(r.transacts, line)
		}
	}
	return r
}

// newClientSince reports whether a connection that was not in old sent requests.
func (r rpcRequests) newClientSince(old rpcRequests) bool {
	for c := range r.clients {
		if !old.clients[c] {
			return true
		}
	}
	return false
}

// idemWatcher is a monitoring command (ip monitor, ovs-ofctl monitor) running
// in the background.
type idemWatcher struct {
	cmd  *exec.Cmd
	out  testenv.Buffer
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
	if _, ok := poll(10*time.Second, func() bool { return idemIP(t, "-n", ns, "-6", "addr", "show", "tentative") == "" }); !ok {
		t.Fatalf("%s still has tentative IPv6 addresses after 10s", host)
	}
	// The kernel notifies a bridge port once more when its forward delay
	// timer expires, 15s after it joined docker0, even with STP off.
	if _, ok := poll(20*time.Second, func() bool { return !idemFwdDelayRE.MatchString(idemIP(t, "-n", ns, "-d", "link", "show")) }); !ok {
		t.Fatalf("the forward delay timers of %s's bridge ports still run after 20s", host)
	}
	w.marker(t)
	n := -1
	if _, ok := poll(15*time.Second, func() bool {
		l := len(w.out.String())
		if l != n {
			n = l
			time.Sleep(idemLinkwatchDelay)
			return len(w.out.String()) == l
		}
		return true
	}); !ok {
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
	if _, ok := poll(10*time.Second, func() bool {
		out := w.out.String()
		if loc := re.FindStringIndex(out[w.from:]); loc != nil {
			at = w.from + loc[0]
			return true
		}
		return false
	}); !ok {
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
	if _, ok := poll(10*time.Second, func() bool { return strings.Contains(w.out.String(), "NXST_FLOW_MONITOR reply") }); !ok {
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
	if _, ok := poll(10*time.Second, func() bool { return marker.MatchString(w.out.String()) }); !ok {
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

// flowTable dumps br0's flows (every cookie, but not the MAC flows ovs-vswitchd
// learned from traffic, see learnedFlow) and returns each flow, without its
// counters, with its duration in seconds.
func flowTable(t *testing.T, c *cluster, host string) map[string]float64 {
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
	log     *ovsdbLog
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
func idemStart(t *testing.T, c *cluster, host string, log *ovsdbLog) *idemWindow {
	t.Helper()
	w := &idemWindow{c: c, host: host, log: log, files: map[string]idemFileInfo{}}
	w.links = idemWatchLinks(t, c, host)
	w.flows = idemWatchFlows(t, c, host)
	for _, f := range idemFiles(c, host) {
		w.files[f] = idemStat(t, f)
	}
	w.before = flowTable(t, c, host)
	w.dumped = time.Now()
	w.logMark = log.mark(t)
	return w
}

func (w *idemWindow) end(t *testing.T) idemSeen {
	t.Helper()
	var s idemSeen
	s.transacts = w.log.read(t, w.logMark).transacts
	start := time.Now()
	after := flowTable(t, w.c, w.host)
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
