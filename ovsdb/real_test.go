package ovsdb

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/internal/testenv"
	"github.com/ovsmesh/ovsmesh/topology"
)

// TestApplyReal applies a 3-tunnel GRE state to a real ovsdb-server and
// ovs-vswitchd (netdev datapath, in a lab namespace) and checks what ovs-vsctl
// sees, that a second apply sends no transaction (counted by the client and in
// ovsdb-server's jsonrpc log), that a hand-added port survives the removal of a
// tunnel, and that the client survives a restart of ovsdb-server.
func TestApplyReal(t *testing.T) {
	testenv.SkipShort(t, "root, Open vSwitch and network namespaces")
	h := lab.NewT(t, lab.HostSpec{Name: "docker1"}).Host("docker1")
	ctx := t.Context()
	vsctl := func(args ...string) string {
		t.Helper()
		out, err := h.Run(ctx, append([]string{"ovs-vsctl", "--timeout=10", "--db=" + h.DB()}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if _, err := h.Run(ctx, "ovs-appctl", "-t", "ovsdb-server", "vlog/set", "jsonrpc:file:dbg"); err != nil {
		t.Fatal(err)
	}
	c := connect(t, h.DB())

	want := greState(2, 3, 4)
	want.Tunnels[0].BFD = true
	want.Tunnels[1].Key = "42"
	want.Tunnels[2].STPCost = 5
	lines, err := c.Apply(ctx, want, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 5 || c.Transactions() != 1 {
		t.Errorf("first apply: %d transactions, changes:\n%s", c.Transactions(), strings.Join(lines, "\n"))
	}
	list := func() string {
		out := vsctl("--format=csv", "--data=bare", "--no-headings",
			"--columns=name,type,options,bfd,ofport,ofport_request,mtu_request,error,external_ids", "list", "interface")
		rows := strings.Split(strings.TrimSpace(out), "\n")
		slices.Sort(rows)
		return strings.Join(rows, "\n")
	}
	checkText(t, "interfaces", list(), strings.Join([]string{
		`br-phy,internal,,,65534,,,,`,
		`br0,internal,,,65534,,1462,,ovsmesh-owner=docker1`,
		`eth0,,,,1,,,,`,
		`gre-docker2,gre,remote_ip=198.18.0.2,enable=true,32770,32770,,,ovsmesh-owner=docker1`,
		`gre-docker3,gre,key=42 remote_ip=198.18.0.3,,32771,32771,,,ovsmesh-owner=docker1`,
		`gre-docker4,gre,remote_ip=198.18.0.4,,32772,32772,,,ovsmesh-owner=docker1`,
	}, "\n"))
	checkText(t, "bridge", vsctl("--format=csv", "--data=bare", "--no-headings",
		"--columns=name,datapath_type,fail_mode,protocols,stp_enable,rstp_enable,external_ids", "find", "bridge", "name=br0"),
		"br0,netdev,secure,OpenFlow10 OpenFlow13 OpenFlow14 OpenFlow15,false,false,ovsmesh-owner=docker1\n")
	checkText(t, "port other_config", vsctl("get", "port", "gre-docker4", "other_config"), "{stp-path-cost=\"5\"}\n")

	logPath := filepath.Join(h.RunDir, "ovsdb-server.log")
	before := countTransacts(t, logPath)
	lines, err = c.Apply(ctx, want, false)
	if err != nil || len(lines) > 0 {
		t.Errorf("second apply: %q, %v", lines, err)
	}
	if n := c.Transactions(); n != 1 {
		t.Errorf("second apply: client sent %d transactions, want none", n-1)
	}
	if after := countTransacts(t, logPath); after != before {
		t.Errorf("second apply: ovsdb-server received %d transact requests, want none", after-before)
	}
	t.Logf("ovsdb-server log: %d transact requests from clients other than ovs-vswitchd before the second apply", before)
	if before == 0 {
		t.Errorf("no transact request in %s: is the jsonrpc log enabled?", logPath)
	}

	vsctl("add-port", "br0", "foreign0", "--", "set", "interface", "foreign0", "type=internal")
	want.Tunnels = want.Tunnels[:2]
	lines, err = c.Apply(ctx, want, false)
	if err != nil {
		t.Fatal(err)
	}
	checkText(t, "removal", strings.Join(lines, "\n"), "delete port gre-docker4 type=gre remote_ip=198.18.0.4 (no longer in the topology)")
	checkText(t, "ports", vsctl("list-ports", "br0"), "foreign0\ngre-docker2\ngre-docker3\n")

	checkRestartRepair(t, h, c, want, vsctl)
	want.Tunnels = want.Tunnels[:1]
	checkWithoutVSwitchd(t, h, want)
}

// checkRestartRepair restarts ovsdb-server and changes a tunnel meanwhile: the
// client reconnects, monitors again, sees the drift and repairs it.
func checkRestartRepair(t *testing.T, h *lab.Host, c *Client, want topology.OVSState, vsctl func(...string) string) {
	ctx := t.Context()
	if err := h.StopOVSDB(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.StartOVSDB(ctx); err != nil {
		t.Fatal(err)
	}
	vsctl("set", "interface", "gre-docker2", "options:remote_ip=198.18.0.9")
	var lines []string
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for {
		lines, err = c.Apply(ctx, want, false)
		if len(lines) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("repair after ovsdb-server restart: %v", err)
	}
	checkText(t, "repair after ovsdb-server restart", strings.Join(lines, "\n"),
		"update interface gre-docker2 options:remote_ip 198.18.0.9 -> 198.18.0.2")
	if lines, err := c.Apply(ctx, want, false); err != nil || len(lines) > 0 || c.Transactions() != 3 {
		t.Errorf("apply after repair: %q, %v, %d transactions (want 3 in all)", lines, err, c.Transactions())
	}
}

// checkWithoutVSwitchd stops ovs-vswitchd: the transaction commits, but Apply
// says that nothing applied it.
func checkWithoutVSwitchd(t *testing.T, h *lab.Host, want topology.OVSState) {
	ctx := t.Context()
	if err := h.StopVSwitchd(ctx); err != nil {
		t.Fatal(err)
	}
	c := connect(t, h.DB(), WithVSwitchdTimeout(time.Second))
	st, err := c.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := c.Apply(ctx, want, false)
	checkText(t, "apply without ovs-vswitchd", strings.Join(lines, "\n"),
		"delete port gre-docker3 type=gre remote_ip=198.18.0.3 (no longer in the topology)")
	checkText(t, "error without ovs-vswitchd", fmt.Sprint(err),
		fmt.Sprintf("ovs-vswitchd did not apply the configuration within 1s (next_cfg=%d, cur_cfg=%d): is ovs-vswitchd running?",
			st.NextCfg+1, st.CurCfg))
}

// transactRE matches ovsdb-server's jsonrpc debug log of a transact request.
var transactRE = regexp.MustCompile(`(?m)\|jsonrpc\|DBG\|\S+: received request, method="transact", params=.*$`)

// countTransacts counts the transact requests in an ovsdb-server log that did
// not come from ovs-vswitchd, which writes statistics and status on its own: its
// transactions assert its "ovs_vswitchd" lock.
func countTransacts(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range transactRE.FindAllString(string(b), -1) {
		if !strings.Contains(line, `"ovs_vswitchd"`) {
			n++
		}
	}
	return n
}
