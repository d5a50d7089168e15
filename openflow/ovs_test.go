package openflow

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
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
)

// requireRealOVS skips a test that needs root and the Open vSwitch tools, unless
// CI=true, where their absence is a failure.
func requireRealOVS(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs root and a real ovs-vswitchd; skipped with -short")
	}
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf
	}
	if os.Geteuid() != 0 {
		skip("needs root (network namespace, ovs-vswitchd with TUN)")
	}
	for _, bin := range []string{"ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			skip("needs %s: %v", bin, err)
		}
	}
}

// testOVS is a private ovsdb-server and an ovs-vswitchd running in a throwaway
// network namespace, with a netdev bridge br0 that holds two internal ports pinned
// at OpenFlow ports 32770 and 32771 (the tunnels of the lab's docker1), so that
// output actions are valid. $OVS_RUNDIR points at its run directory for the test,
// so ovs-ofctl (and Table) reach br0 by name.
type testOVS struct {
	dir string
}

func startOVS(t testing.TB) *testOVS {
	t.Helper()
	requireRealOVS(t)
	// A short directory: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "ofovs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	o := &testOVS{dir: dir}
	db := filepath.Join(dir, "conf.db")
	o.run(t, "ovsdb-tool", "create", db, "/usr/share/openvswitch/vswitch.ovsschema")
	o.run(t, "ovsdb-server", db, "--remote=punix:"+dir+"/db.sock", "--pidfile="+dir+"/ovsdb.pid",
		"--unixctl="+dir+"/ovsdb.ctl", "--detach", "--log-file="+dir+"/ovsdb.log")
	t.Cleanup(func() { stopPidfile(t, dir+"/ovsdb.pid") })

	ns := "oftest-" + randomHex(t)
	o.run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { o.runNoFail(t, "ip", "netns", "del", ns) })
	o.run(t, "ip", "netns", "exec", ns, "env", "OVS_RUNDIR="+dir, "ovs-vswitchd", "unix:"+dir+"/db.sock",
		"--pidfile="+dir+"/vs.pid", "--unixctl="+dir+"/vs.ctl", "--detach", "--log-file="+dir+"/vs.log")
	t.Cleanup(func() { stopPidfile(t, dir+"/vs.pid") })

	// Without --no-wait, ovs-vsctl returns once vswitchd has built the bridge.
	o.run(t, "ovs-vsctl", "--db=unix:"+dir+"/db.sock", "--timeout=30",
		"--", "init",
		"--", "add-br", "br0",
		"--", "set", "Bridge", "br0", "datapath_type=netdev", "fail_mode=secure",
		"protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15",
		"--", "add-port", "br0", "tun2", "--", "set", "Interface", "tun2", "type=internal", "ofport_request=32770",
		"--", "add-port", "br0", "tun3", "--", "set", "Interface", "tun3", "type=internal", "ofport_request=32771")
	t.Setenv("OVS_RUNDIR", dir)
	return o
}

func (o *testOVS) run(t testing.TB, argv ...string) string {
	t.Helper()
	out, err := o.exec(argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (o *testOVS) runNoFail(t testing.TB, argv ...string) {
	t.Helper()
	if _, err := o.exec(argv...); err != nil {
		t.Error(err)
	}
}

func (o *testOVS) exec(argv ...string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+o.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", errors.New(strings.Join(argv, " ") + ": " + err.Error() + ": " + string(out))
	}
	return string(out), nil
}

// ofctl runs ovs-ofctl with OpenFlow 1.4 on br0's socket.
func (o *testOVS) ofctl(t testing.TB, args ...string) string {
	t.Helper()
	return o.run(t, append([]string{"ovs-ofctl", "-O", "OpenFlow14"}, args...)...)
}

// dumpLineRE matches one line of ovs-ofctl dump-flows (OpenFlow 1.4): the
// match, with the priority unless it is the default 32768, is the fourth group.
var dumpLineRE = regexp.MustCompile(`^\s*cookie=(0x[0-9a-f]+), duration=([0-9.]+)s, table=(\d+), n_packets=\d+, n_bytes=\d+,(?: idle_age=\d+,)?(?: reset_counts)?(?: (\S+))? actions=(\S+)$`)

// dumpedFlow is a flow of br0 as text in topology.Flow.String() form, with the
// cookie and the age of the flow.
type dumpedFlow struct {
	cookie   string
	text     string
	duration float64
}

// flows dumps every flow of br0, parsed with dumpLineRE (not with
// go-openvswitch: the test checks vswitchd's text independently).
func (o *testOVS) flows(t testing.TB) []dumpedFlow {
	t.Helper()
	var out []dumpedFlow
	for _, l := range strings.Split(strings.TrimSpace(o.ofctl(t, "dump-flows", "br0")), "\n")[1:] {
		m := dumpLineRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("unexpected dump-flows line %q", l)
		}
		d, _ := strconv.ParseFloat(m[2], 64)
		// OVS prints registers before in_port: compare in canonical order.
		var p lineParser
		text := p.parse("cookie=" + ourCookie + ", table=" + m[3] + ", " + m[4] + " actions=" + m[5]).text
		out = append(out, dumpedFlow{cookie: m[1], duration: d, text: text})
	}
	return out
}

// texts returns the sorted texts of the dumped flows with the given cookie.
func texts(flows []dumpedFlow, cookie string) []string {
	var out []string
	for _, f := range flows {
		if f.cookie == cookie {
			out = append(out, f.text)
		}
	}
	slices.Sort(out)
	return out
}

// stopPidfile stops the daemon of a pidfile by its pid and waits for it to exit.
func stopPidfile(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("stop daemon: %v", err)
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Errorf("stop daemon: bad pidfile %s: %q", path, b)
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func randomHex(t testing.TB) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// recordingRunner runs commands with ExecRunner and records each command line;
// a bundle's stdin is recorded after it.
type recordingRunner struct {
	mu  sync.Mutex
	log []string
}

func (r *recordingRunner) Run(ctx context.Context, stdin io.Reader, name string, args ...string) ([]byte, error) {
	line := name + " " + strings.Join(args, " ")
	if stdin != nil {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, err
		}
		line += "\n" + string(b)
		stdin = bytes.NewReader(b)
	}
	r.mu.Lock()
	r.log = append(r.log, line)
	r.mu.Unlock()
	return ExecRunner{}.Run(ctx, stdin, name, args...)
}

// take returns the commands run since the last call.
func (r *recordingRunner) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.log
	r.log = nil
	return out
}

// writes returns the commands that modify flows.
func writes(cmds []string) []string {
	var out []string
	for _, c := range cmds {
		if strings.Contains(c, "--bundle") || strings.Contains(c, " add-flow") || strings.Contains(c, " del-flows") || strings.Contains(c, " mod-flows") {
			out = append(out, c)
		}
	}
	return out
}
