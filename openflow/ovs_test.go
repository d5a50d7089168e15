package openflow

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// requireRealOVS skips a test that needs root and the Open vSwitch tools (see
// testenv: with CI=true their absence is a failure).
func requireRealOVS(t testing.TB) {
	t.Helper()
	testenv.SkipShort(t, "root and a real ovs-vswitchd")
	testenv.RequireRoot(t, "network namespace, ovs-vswitchd with TUN")
	testenv.RequireBinary(t, "ovs-ofctl", "openvswitch-switch")
}

// testOVS is testenv's private Open vSwitch with a netdev bridge br0 that holds
// two internal ports pinned at OpenFlow ports 32770 and 32771 (the tunnels of
// the lab's docker1), so that output actions are valid. $OVS_RUNDIR points at
// its run directory for the test, so ovs-ofctl (and Table) reach br0 by name.
type testOVS struct {
	*testenv.OVS
}

func startOVS(t testing.TB) *testOVS {
	t.Helper()
	o := &testOVS{testenv.StartOVS(t)}
	// Without --no-wait, ovs-vsctl returns once vswitchd has built the bridge.
	o.Run(t, "ovs-vsctl", "--db="+o.DB(), "--timeout=30",
		"--", "add-br", "br0",
		"--", "set", "Bridge", "br0", "datapath_type=netdev", "fail_mode=secure",
		"protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15",
		"--", "add-port", "br0", "tun2", "--", "set", "Interface", "tun2", "type=internal", "ofport_request=32770",
		"--", "add-port", "br0", "tun3", "--", "set", "Interface", "tun3", "type=internal", "ofport_request=32771")
	return o
}

// ofctl runs ovs-ofctl with OpenFlow 1.4 on br0's socket.
func (o *testOVS) ofctl(t testing.TB, args ...string) string {
	t.Helper()
	return o.Run(t, append([]string{"ovs-ofctl", "-O", "OpenFlow14"}, args...)...)
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
