package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// TestReboot proves the files step on a rebooted host: the ovsmesh block that
// apply wrote into /etc/network/interfaces, brought up by Debian's ifupdown with
// the openvswitch-switch and bridge-utils hooks on a host whose OVSDB is empty,
// rebuilds the same bridge, tunnels (with ovsmesh's ownership marks) and docker0,
// and the next `ovsmesh apply` sends no OVSDB write: it only installs the flow
// table, which lives in ovs-vswitchd and is lost by a reboot.
func TestReboot(t *testing.T) {
	t.Parallel()
	lab.RequireBinaries(t, "ifup", "brctl", "unshare", "mount", "ovsdb-tool", "ovs-ofctl")
	if testing.Short() {
		t.Skip("end-to-end test: skipped under -short")
	}
	// Registered before the lab, so it runs after the lab's teardown: the
	// machine's own network configuration must come out of the test untouched.
	system := rebootSystemFiles(t)
	t.Cleanup(func() {
		if got := rebootSystemFiles(t); !slices.Equal(got, system) {
			t.Errorf("the machine's network files changed during the test:\nbefore: %q\nafter:  %q", system, got)
		}
	})

	c := newCluster(t, labTopology("  encap: gre\n  mode: mesh\n", 3))
	const host = "docker1"
	h := c.host(host)
	ifaces := filepath.Join(c.dir, host, "interfaces")
	const loopback = "auto lo\niface lo inet loopback\n"
	if err := os.WriteFile(ifaces, []byte(loopback), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustApply()
	file, err := os.ReadFile(ifaces)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(file), loopback) || !strings.Contains(string(file), "# BEGIN ovsmesh managed block") {
		t.Fatalf("%s after apply lost the loopback stanza or has no ovsmesh block:\n%s", ifaces, file)
	}

	// Before any container: docker0's ports are then what ovsmesh made.
	applied := rebootHostState(t, c, host)
	appliedFlows := rebootFlows(t, c, host)
	if len(appliedFlows) == 0 {
		t.Fatalf("%s has no flows after apply", host)
	}

	hosts := []string{"docker1", "docker2", "docker3"}
	cts := map[string]*lab.Container{}
	for _, name := range hosts {
		cts[name] = c.container(name, 2)
	}
	rebootPingAll(t, hosts, cts)
	if t.Failed() {
		t.FailNow()
	}

	start := time.Now()
	rebootFreshHost(t, c, host, cts[host])
	t.Logf("%s rebooted (daemons stopped, empty database, links gone, br-phy rebuilt) in %v", host, time.Since(start).Round(time.Millisecond))

	rpcLog := filepath.Join(h.RunDir, "ovsdb-server.log")
	atBoot := rebootReadRPCLog(t, rpcLog)
	start = time.Now()
	calls := rebootIfup(t, c, host, ifaces)
	t.Logf("ifup -a on %s: %v", host, time.Since(start).Round(time.Millisecond))
	afterIfup := rebootReadRPCLog(t, rpcLog)
	if afterIfup.transacts == atBoot.transacts {
		t.Errorf("no transact request in %s during ifup -a: is the jsonrpc debug log on?", rpcLog)
	}
	t.Logf("ifup -a sent %d transact requests to ovsdb-server", afterIfup.transacts-atBoot.transacts)
	// The OVS hook asks whether openvswitch-switch runs, the resolved hook whether
	// systemd-resolved is enabled; nothing may start, stop or reload a service.
	asked := false
	for _, call := range calls {
		switch call {
		case "--quiet is-active openvswitch-switch.service":
			asked = true
		case "is-enabled systemd-resolved":
		default:
			t.Errorf("a hook ran systemctl %s", call)
		}
	}
	if !asked {
		t.Errorf("the OVS hook never asked systemctl whether openvswitch-switch is active (calls: %q): did ifup run the hook?", calls)
	}

	t.Run("ifup rebuilds what apply built", func(t *testing.T) {
		booted := rebootHostState(t, c, host)
		rebootCheckText(t, "state after ifup -a", booted, []string{
			"br0 mtu=1462 up=true",
			"bridge br-phy datapath_type=netdev fail_mode= protocols= stp_enable=false rstp_enable=false external_ids=",
			"bridge br0 datapath_type=netdev fail_mode=secure protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15 stp_enable=false rstp_enable=false external_ids=ovsmesh-owner=docker1",
			"docker0 kind=bridge mac=02:42:ac:11:00:01 mtu=1462 up=true addresses=172.17.0.1/16 ports=br0",
			"interface br-phy type=internal options= ofport_request= ofport=65534 mtu_request= bfd= external_ids=",
			"interface br0 type=internal options= ofport_request= ofport=65534 mtu_request=1462 bfd= external_ids=ovsmesh-owner=docker1",
			"interface eth0 type= options= ofport_request= ofport=1 mtu_request= bfd= external_ids=",
			"interface gre-docker2 type=gre options=local_ip=198.18.0.1,remote_ip=198.18.0.2 ofport_request=32770 ofport=32770 mtu_request= bfd= external_ids=ovsmesh-owner=docker1",
			"interface gre-docker3 type=gre options=local_ip=198.18.0.1,remote_ip=198.18.0.3 ofport_request=32771 ofport=32771 mtu_request= bfd= external_ids=ovsmesh-owner=docker1",
			"port br-phy external_ids= other_config=",
			"port br0 external_ids=ovsmesh-owner=docker1 other_config=",
			"port eth0 external_ids= other_config=",
			"port gre-docker2 external_ids=ovsmesh-owner=docker1 other_config=",
			"port gre-docker3 external_ids=ovsmesh-owner=docker1 other_config=",
			"ports of br0: gre-docker2 gre-docker3",
		})
		rebootCheckText(t, "state after ifup -a, against the state after the first apply", booted, applied)
		if got := rebootFlows(t, c, host); len(got) != 0 {
			t.Errorf("a freshly booted br0 has %d flows, want none (ovs-vswitchd kept flows across the reboot?):\n%s", len(got), strings.Join(got, "\n"))
		}
	})

	t.Run("apply after the reboot writes no OVSDB row and installs the flows", func(t *testing.T) {
		out, err := c.apply(host)
		afterApply := rebootReadRPCLog(t, rpcLog)
		t.Logf("apply on %s after ifup -a:\n%s", host, out)
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		steps := rebootChangeLines(t, host, out)
		for _, step := range []string{"ovsdb", "docker0", "files"} {
			if len(steps[step]) > 0 {
				t.Errorf("apply changed %s after ifup -a rebuilt it, want nothing:\n%s", step, strings.Join(steps[step], "\n"))
			}
		}
		if len(steps["openflow"]) == 0 {
			t.Errorf("apply installed no flows on the rebooted host, whose flow table is empty")
		}
		t.Logf("change lines by step: ovsdb %d, docker0 %d, openflow %d, files %d",
			len(steps["ovsdb"]), len(steps["docker0"]), len(steps["openflow"]), len(steps["files"]))
		if n := afterApply.transacts - afterIfup.transacts; n != 0 {
			t.Errorf("ovsdb-server received %d transact requests during the apply, want none", n)
		}
		if !afterApply.newClientSince(afterIfup) {
			t.Errorf("%s shows no request from a new client during the apply: the transact count proves nothing", rpcLog)
		}
		rebootCheckText(t, "flows after apply, against the flows before the reboot", rebootFlows(t, c, host), appliedFlows)
		rebootCheckText(t, "state after apply, against the state before the reboot", rebootHostState(t, c, host), applied)

		out, err = c.apply(host)
		if err != nil || !strings.Contains(out, host+": matches the plan, nothing to change") {
			t.Errorf("second apply after the reboot: %v\n%s", err, out)
		}
	})

	cts[host] = c.container(host, 3) // the old container died with the host
	rebootPingAll(t, hosts, cts)
}

// rebootFreshHost makes host look freshly booted: its old container is gone, its
// daemons are stopped, its database is replaced by an empty one, and every link
// that ovs-vswitchd or ovsmesh made is deleted; then it starts ovsdb-server and
// ovs-vswitchd again and rebuilds br-phy with the underlay address the way the lab
// builds a host (internal/lab has no "reset host" call), so that only the
// ovsmesh block of /etc/network/interfaces is left to run.
func rebootFreshHost(t *testing.T, c *cluster, host string, ct *lab.Container) {
	t.Helper()
	h := c.host(host)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(argv ...string) string {
		t.Helper()
		out, err := h.Run(ctx, argv...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// Deleting one end of the veth deletes both, synchronously, unlike the
	// deletion of the container's namespace.
	run("ip", "link", "del", "dev", ct.HostVeth)
	// From the root namespace: inside the host's, the unmount of /run/netns/…
	// would not reach the root mount namespace.
	if out, err := exec.CommandContext(ctx, "ip", "netns", "delete", ct.NS).CombinedOutput(); err != nil {
		t.Fatalf("delete the old container's namespace: %v: %s", err, out)
	}
	if err := h.StopVSwitchd(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.StopOVSDB(ctx); err != nil {
		t.Fatal(err)
	}
	// The taps of the userspace datapath survive ovs-vswitchd; a reboot does not.
	for _, link := range []string{lab.DockerBridge, "br0", lab.PhysBridge, "ovs-netdev"} {
		if _, err := h.Run(ctx, "ip", "link", "show", "dev", link); err == nil {
			run("ip", "link", "del", "dev", link)
		}
	}
	if got := rebootLinks(t, ctx, h); !slices.Equal(got, []string{"eth0", "lo"}) {
		t.Fatalf("links left on %s after the reboot: %q, want only eth0 and lo", host, got)
	}

	db := filepath.Join(h.RunDir, "conf.db")
	for _, f := range []string{db, filepath.Join(h.RunDir, ".conf.db.~lock~")} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	run("ovsdb-tool", "create", db, rebootSchema(t))
	if err := h.StartOVSDB(ctx); err != nil {
		t.Fatal(err)
	}
	// Every request ovsdb-server receives from now on is logged, to count the
	// transactions of ifup and of the next apply.
	run("ovs-appctl", "-t", "ovsdb-server", "vlog/set", "jsonrpc:file:dbg")
	vsctl := []string{"ovs-vsctl", "--timeout=30", "--db=" + h.DB()}
	run(append(vsctl, "--no-wait", "init")...)
	if got := strings.TrimSpace(run(append(vsctl, "--no-wait", "list-br")...)); got != "" {
		t.Fatalf("the fresh database of %s has bridges: %q", host, got)
	}
	if err := h.StartVSwitchd(ctx); err != nil {
		t.Fatal(err)
	}
	// Waits for ovs-vswitchd to create the br-phy tap (no --no-wait).
	run(append(vsctl, "add-br", lab.PhysBridge, "--", "set", "bridge", lab.PhysBridge, "datapath_type=netdev",
		"--", "add-port", lab.PhysBridge, "eth0")...)
	run("ip", "addr", "add", h.UnderlayPrefix.String(), "dev", lab.PhysBridge)
	run("ip", "link", "set", "dev", lab.PhysBridge, "up")
	rebootWaitRoute(t, ctx, h)
}

// rebootSchema returns the path of the vswitch schema, where internal/lab looks
// for it.
func rebootSchema(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/share/openvswitch/vswitch.ovsschema", "/usr/local/share/openvswitch/vswitch.ovsschema"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("vswitch.ovsschema not found in /usr/share/openvswitch or /usr/local/share/openvswitch")
	return ""
}

// rebootWaitRoute waits until ovs-vswitchd has learned the underlay route through
// br-phy from the kernel: the userspace datapath's tunnels need it.
func rebootWaitRoute(t *testing.T, ctx context.Context, h *lab.Host) {
	t.Helper()
	want := h.UnderlayPrefix.Masked().String() + " dev " + lab.PhysBridge + " "
	var out string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out, _ = h.Run(ctx, "ovs-appctl", "-t", "ovs-vswitchd", "ovs/route/show")
		if strings.Contains(out, want) {
			return
		}
	}
	t.Fatalf("ovs-vswitchd of %s did not learn the route %q within 15s:\n%s", h.Name, want, out)
}

// rebootIfupScript brings interfaces up as networking.service does at boot, but in
// a mount namespace of its own, so that nothing it does reaches the machine's own
// configuration: a tmpfs hides the machine's /run, the lab host's run directory
// becomes /run/openvswitch (where the hooks' ovs-vsctl looks for the database),
// the rendered file becomes /etc/network/interfaces (the OVS hook's nested
// "ifup --allow=br0" reads that path), a stub takes the place of systemctl (the OVS
// hook would start the machine's openvswitch-switch service if it looked
// inactive) and a directory of the test keeps ifupdown's state.
//
// Arguments: run dir, interfaces file, systemctl stub, state dir, then the command.
const rebootIfupScript = `set -eu
rundir=$1 file=$2 stub=$3 state=$4
shift 4
mount -t tmpfs ovsmesh-reboot /run
mkdir -p /run/openvswitch /run/network
mount --bind "$rundir" /run/openvswitch
mount --bind "$state" /run/network
mount --bind "$file" /etc/network/interfaces
mount --bind "$stub" /bin/systemctl
exec "$@"`

// rebootIfup runs "ifup -a" on host with the given interfaces file and returns
// the argument lists the hooks called systemctl with.
func rebootIfup(t *testing.T, c *cluster, host, ifaces string) []string {
	t.Helper()
	h := c.host(host)
	dir := t.TempDir()
	for _, p := range []string{dir, h.RunDir, ifaces} {
		if p == "/run" || strings.HasPrefix(p, "/run/") {
			t.Fatalf("%s is under /run, which the ifup namespace hides: set TMPDIR elsewhere", p)
		}
	}
	state, stub, calls := filepath.Join(dir, "state"), filepath.Join(dir, "systemctl"), filepath.Join(dir, "systemctl.calls")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	// The OVS hook asks whether openvswitch-switch is active: yes, it is (the
	// lab's daemons). Everything else (the resolved hook asks whether
	// systemd-resolved is enabled) gets "no", so nothing else is attempted.
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %s\ncase \"$*\" in\n*is-active*openvswitch-switch*) exit 0 ;;\nesac\nexit 1\n", calls)
	if err := os.WriteFile(stub, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := h.Run(ctx, "unshare", "-m", "--propagation", "private", "sh", "-c", rebootIfupScript, "sh",
		h.RunDir, ifaces, stub, state, "ifup", "-a", "-v")
	if err != nil {
		t.Fatalf("ifup -a on %s: %v", host, err)
	}
	t.Logf("ifup -a -v on %s:\n%s", host, out)
	b, err := os.ReadFile(calls)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// rebootHostState renders what ovsmesh and the lab built on host as sorted
// text: every Bridge, Port and Interface row with the columns ovsmesh writes (and
// the ofport the tunnels got), the ports of br0, docker0 and br0's tap.
func rebootHostState(t *testing.T, c *cluster, host string) []string {
	t.Helper()
	h := c.host(host)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var lines []string
	for _, tbl := range []struct{ name, columns string }{
		{"bridge", "name,datapath_type,fail_mode,protocols,stp_enable,rstp_enable,external_ids"},
		{"port", "name,external_ids,other_config"},
		{"interface", "name,type,options,ofport_request,ofport,mtu_request,bfd,external_ids"},
	} {
		out, err := h.Run(ctx, "ovs-vsctl", "--db="+h.DB(), "--timeout=10", "--format=csv", "--data=bare",
			"--no-headings", "--columns="+tbl.columns, "list", tbl.name)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("ovs-vsctl list %s: %v:\n%s", tbl.name, err, out)
		}
		cols := strings.Split(tbl.columns, ",")
		for _, row := range rows {
			var b strings.Builder
			b.WriteString(tbl.name + " " + row[0])
			for i, v := range row[1:] {
				// --data=bare separates set and map elements with spaces.
				fmt.Fprintf(&b, " %s=%s", cols[i+1], strings.Join(strings.Fields(v), ","))
			}
			lines = append(lines, b.String())
		}
	}
	ports := c.vsctl(host, "list-ports", "br0")
	lines = append(lines, "ports of br0: "+strings.Join(strings.Fields(ports), " "))
	lines = append(lines, rebootLinuxBridge(t, ctx, h, lab.DockerBridge))
	br0 := rebootLink(t, ctx, h, "br0")
	lines = append(lines, fmt.Sprintf("br0 mtu=%d up=%v", br0.MTU, slices.Contains(br0.Flags, "UP")))
	slices.Sort(lines)
	return lines
}

// rebootIPLink is the part of `ip -j -d link` output the test reads.
type rebootIPLink struct {
	Name     string   `json:"ifname"`
	Address  string   `json:"address"`
	MTU      int      `json:"mtu"`
	Flags    []string `json:"flags"`
	LinkInfo struct {
		Kind string `json:"info_kind"`
	} `json:"linkinfo"`
	Addrs []struct {
		Family string `json:"family"`
		Local  string `json:"local"`
		Len    int    `json:"prefixlen"`
	} `json:"addr_info"`
}

func rebootIPJSON(t *testing.T, ctx context.Context, h *lab.Host, argv ...string) []rebootIPLink {
	t.Helper()
	out, err := h.Run(ctx, append([]string{"ip", "-j"}, argv...)...)
	if err != nil {
		t.Fatal(err)
	}
	var links []rebootIPLink
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		t.Fatalf("ip -j %s: %v:\n%s", strings.Join(argv, " "), err, out)
	}
	return links
}

func rebootLink(t *testing.T, ctx context.Context, h *lab.Host, name string) rebootIPLink {
	t.Helper()
	links := rebootIPJSON(t, ctx, h, "-d", "link", "show", "dev", name)
	if len(links) != 1 {
		t.Fatalf("ip link show dev %s on %s: %d links", name, h.Name, len(links))
	}
	return links[0]
}

// rebootLinuxBridge renders a Linux bridge as "NAME kind=… mac=… mtu=… up=…
// addresses=… ports=…", or "NAME missing".
func rebootLinuxBridge(t *testing.T, ctx context.Context, h *lab.Host, name string) string {
	t.Helper()
	if _, err := h.Run(ctx, "ip", "link", "show", "dev", name); err != nil {
		return name + " missing"
	}
	l := rebootLink(t, ctx, h, name)
	var addrs, ports []string
	for _, a := range rebootIPJSON(t, ctx, h, "addr", "show", "dev", name) {
		for _, ai := range a.Addrs {
			if ai.Family == "inet" {
				addrs = append(addrs, fmt.Sprintf("%s/%d", ai.Local, ai.Len))
			}
		}
	}
	for _, p := range rebootIPJSON(t, ctx, h, "link", "show", "master", name) {
		ports = append(ports, p.Name)
	}
	slices.Sort(ports)
	return fmt.Sprintf("%s kind=%s mac=%s mtu=%d up=%v addresses=%s ports=%s", name, l.LinkInfo.Kind, l.Address, l.MTU,
		slices.Contains(l.Flags, "UP"), strings.Join(addrs, ","), strings.Join(ports, ","))
}

// rebootLinks lists the names of the links in host's namespace, sorted.
func rebootLinks(t *testing.T, ctx context.Context, h *lab.Host) []string {
	t.Helper()
	var names []string
	for _, l := range rebootIPJSON(t, ctx, h, "link", "show") {
		names = append(names, l.Name)
	}
	slices.Sort(names)
	return names
}

// rebootFlows returns the flows of host's br0 without statistics, sorted.
func rebootFlows(t *testing.T, c *cluster, host string) []string {
	t.Helper()
	var flows []string
	for _, l := range strings.Split(c.ofctl(host, "--no-stats", "dump-flows", "br0"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "OFPST_FLOW") && !learnedFlow(l) {
			flows = append(flows, l)
		}
	}
	slices.Sort(flows)
	return flows
}

// rebootChangeLines groups the change lines of apply's output by step
// ("ovsdb: …", "openflow: …"); the one summary line, named after the host
// ("docker1: …"), is not a change.
func rebootChangeLines(t *testing.T, host, out string) map[string][]string {
	t.Helper()
	steps := map[string][]string{}
	summaries := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		step, _, ok := strings.Cut(sc.Text(), ":")
		switch {
		case !ok:
			t.Errorf("apply printed a line with no step: %q", sc.Text())
		case step == host:
			summaries++
		default:
			steps[step] = append(steps[step], sc.Text())
		}
	}
	if summaries != 1 {
		t.Errorf("apply printed %d summary lines, want 1:\n%s", summaries, out)
	}
	return steps
}

// rebootRPCLog is what ovsdb-server's jsonrpc debug log says about its clients'
// requests.
type rebootRPCLog struct {
	// transacts counts transact requests, except those of ovs-vswitchd, which
	// writes statistics and status on its own: its transactions assert its
	// "ovs_vswitchd" lock.
	transacts int
	// clients are the connections ("unix#7") that sent any request.
	clients map[string]bool
}

// newClientSince reports whether a connection that was not in old sent requests.
func (l rebootRPCLog) newClientSince(old rebootRPCLog) bool {
	for c := range l.clients {
		if !old.clients[c] {
			return true
		}
	}
	return false
}

// rebootReadRPCLog reads an ovsdb-server log written with jsonrpc:file:dbg, where
// a request reads "…|jsonrpc|DBG|unix#7: received request, method="transact", params=[…]".
func rebootReadRPCLog(t *testing.T, path string) rebootRPCLog {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l := rebootRPCLog{clients: map[string]bool{}}
	for _, line := range strings.Split(string(b), "\n") {
		_, rest, ok := strings.Cut(line, "|jsonrpc|DBG|")
		if !ok {
			continue
		}
		client, req, ok := strings.Cut(rest, ": received request, method=")
		if !ok {
			continue
		}
		l.clients[client] = true
		if strings.HasPrefix(req, `"transact"`) && !strings.Contains(req, `"ovs_vswitchd"`) {
			l.transacts++
		}
	}
	return l
}

// rebootSystemFiles returns a digest of each file of the machine's own network
// configuration that ifup could write ("absent" when it does not exist).
func rebootSystemFiles(t *testing.T) []string {
	t.Helper()
	var sums []string
	for _, p := range []string{"/etc/network/interfaces", "/run/network/ifstate"} {
		b, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			sums = append(sums, p+" absent")
		case err != nil:
			t.Fatal(err)
		default:
			sum := sha256.Sum256(b)
			sums = append(sums, p+" "+hex.EncodeToString(sum[:]))
		}
	}
	return sums
}

// rebootPingAll pings every container from every other.
func rebootPingAll(t *testing.T, hosts []string, cts map[string]*lab.Container) {
	t.Helper()
	for _, a := range hosts {
		for _, b := range hosts {
			if a != b {
				ping(t, cts[a], addr(cts[b].Addr), 56, false)
			}
		}
	}
}

// rebootCheckText fails t unless got and want hold the same lines.
func rebootCheckText(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
