package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	if _, ok := poll(15*time.Second, func() bool {
		out, _ = h.Run(ctx, "ovs-appctl", "-t", "ovs-vswitchd", "ovs/route/show")
		return strings.Contains(out, want)
	}); ok {
		return
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

// rebootHostState is host's state (every OVSDB row) as sorted lines, without
// the flows, which the test compares on their own (flowTable).
func rebootHostState(t *testing.T, c *cluster, host string) []string {
	t.Helper()
	s, err := readHostState(c, host, true)
	if err != nil {
		t.Fatal(err)
	}
	s.Flows = nil
	return s.lines()
}

// rebootLinks lists the names of the links in host's namespace, sorted.
func rebootLinks(t *testing.T, ctx context.Context, h *lab.Host) []string {
	t.Helper()
	links, err := ipLinks(ctx, h, "link", "show")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Name)
	}
	slices.Sort(names)
	return names
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

// rebootCheckText fails t unless got and want hold the same lines.
func rebootCheckText(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
