package linuxbridge

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
	"github.com/ovsmesh/ovsmesh/topology"
)

// testNS is a throwaway network namespace with a netlink handle bound to it.
type testNS struct {
	name string
	h    *netlink.Handle
}

// newNS creates a namespace deleted when the test ends (testenv.NewNetNS: it
// skips with -short, and without root outside CI).
func newNS(t *testing.T) *testNS {
	t.Helper()
	n := &testNS{name: testenv.NewNetNS(t, "lbtest")}
	ns, err := netns.GetFromName(n.name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	if n.h, err = netlink.NewHandleAt(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.h.Close)
	return n
}

func run(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// ip runs ip -n NS args.
func (n *testNS) ip(t *testing.T, args ...string) string {
	t.Helper()
	return run(t, append([]string{"ip", "-n", n.name}, args...)...)
}

// state renders the namespace's links (but lo) and IPv4 addresses as sorted text
// from ip -d link / ip addr, e.g.
//
//	docker0 bridge mtu 1462 up
//	docker0 inet 172.17.0.1/16
//	br0 tun mtu 1462 master docker0 up
func (n *testNS) state(t *testing.T) string {
	t.Helper()
	var links []struct {
		Name     string   `json:"ifname"`
		MTU      int      `json:"mtu"`
		Master   string   `json:"master"`
		Flags    []string `json:"flags"`
		LinkInfo struct {
			Kind string `json:"info_kind"`
		} `json:"linkinfo"`
	}
	if err := json.Unmarshal([]byte(n.ip(t, "-j", "-d", "link", "show")), &links); err != nil {
		t.Fatal(err)
	}
	var addrs []struct {
		Name  string `json:"ifname"`
		Addrs []struct {
			Family string `json:"family"`
			Local  string `json:"local"`
			Len    int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(n.ip(t, "-j", "addr", "show")), &addrs); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range links {
		if l.Name == "lo" {
			continue
		}
		s := l.Name + " " + l.LinkInfo.Kind + " mtu " + strconv.Itoa(l.MTU)
		if l.Master != "" {
			s += " master " + l.Master
		}
		if slices.Contains(l.Flags, "UP") {
			s += " up"
		}
		lines = append(lines, s)
	}
	for _, l := range addrs {
		for _, a := range l.Addrs {
			if a.Family == "inet" && l.Name != "lo" {
				lines = append(lines, l.Name+" inet "+a.Local+"/"+strconv.Itoa(a.Len))
			}
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// quiet runs fn while ip monitor records the namespace's link and address events,
// and returns the events fn caused: a netlink write that changes anything shows
// up. The kernel reports some link changes up to a second late (linkwatch), so it
// first waits for earlier changes to be reported, and after fn waits as long.
func (n *testNS) quiet(t *testing.T, fn func()) string {
	t.Helper()
	var out testenv.Buffer
	cmd := exec.Command("ip", "-n", n.name, "monitor", "link", "address")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	time.Sleep(1500 * time.Millisecond)
	mark := len(out.String())
	fn()
	time.Sleep(1500 * time.Millisecond)
	return strings.TrimSpace(out.String()[mark:])
}

// addPort creates the stand-in for the OVS bridge's internal interface: a tap
// device, which is what ovs-vswitchd's userspace datapath creates.
func (n *testNS) addPort(t *testing.T, name string) {
	t.Helper()
	n.ip(t, "tuntap", "add", "dev", name, "mode", "tap")
}

var want = topology.DockerBridge{
	Name:      "docker0",
	Owner:     "docker1",
	Address:   netip.MustParsePrefix("172.17.0.1/16"),
	MTU:       1462,
	Port:      "br0",
	FixedCIDR: netip.MustParsePrefix("172.17.64.0/18"),
	Subnet:    netip.MustParsePrefix("172.17.0.0/16"),
}

const converged = `br0 tun mtu 1462 master docker0 up
docker0 bridge mtu 1462 up
docker0 inet 172.17.0.1/16`

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func apply(t *testing.T, b *Bridge, w topology.DockerBridge, dry bool) []string {
	t.Helper()
	changes, err := b.Apply(context.Background(), w, dry)
	if err != nil {
		t.Fatal(err)
	}
	return changes
}

func TestApplyFresh(t *testing.T) {
	n := newNS(t)
	n.addPort(t, "br0")
	b := New(n.h, testLogger(t))
	before := n.state(t)

	wantChanges := []string{
		"create bridge docker0 mtu 1462 alias ovsmesh-owner=docker1",
		"add address 172.17.0.1/16 to docker0",
		"set br0 mtu 1462 (was 1500)",
		"attach br0 to docker0",
		"set br0 up",
		"set docker0 up",
	}
	if got := apply(t, b, want, true); !slices.Equal(got, wantChanges) {
		t.Errorf("dry run:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantChanges, "\n"))
	}
	if s := n.state(t); s != before {
		t.Fatalf("dry run changed the namespace:\n%s", s)
	}

	if got := apply(t, b, want, false); !slices.Equal(got, wantChanges) {
		t.Errorf("Apply:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantChanges, "\n"))
	}
	if s := n.state(t); s != converged {
		t.Errorf("state:\n%s\nwant:\n%s", s, converged)
	}

	var changes []string
	if events := n.quiet(t, func() { changes = apply(t, b, want, false) }); changes != nil || events != "" {
		t.Errorf("second Apply: changes %q, netlink events:\n%s", changes, events)
	}
}

func TestApplyRefusesOtherLinkType(t *testing.T) {
	n := newNS(t)
	n.addPort(t, "br0")
	n.ip(t, "link", "add", "docker0", "type", "veth", "peer", "name", "docker0-peer")
	before := n.state(t)
	_, err := New(n.h, testLogger(t)).Apply(context.Background(), want, false)
	if err == nil || err.Error() != `link "docker0" exists with type "veth", want a bridge: not replacing it` {
		t.Errorf("err = %v", err)
	}
	if s := n.state(t); s != before {
		t.Errorf("state changed:\n%s\nwas:\n%s", s, before)
	}
}

func TestApplyAddresses(t *testing.T) {
	n := newNS(t)
	n.addPort(t, "br0")
	n.ip(t, "link", "add", "docker0", "type", "bridge")
	n.ip(t, "addr", "add", "172.17.5.5/16", "dev", "docker0") // another host's, say
	n.ip(t, "addr", "add", "172.17.9.9/24", "dev", "docker0") // an old address
	n.ip(t, "addr", "add", "10.99.0.1/24", "dev", "docker0")  // the operator's
	b := New(n.h, testLogger(t))

	changes := apply(t, b, want, false)
	wantChanges := []string{
		"set docker0 alias ovsmesh-owner=docker1",
		"set docker0 mtu 1462 (was 1500)",
		"delete address 172.17.5.5/16 from docker0: inside subnet 172.17.0.0/16",
		"add address 172.17.0.1/16 to docker0",
		"delete address 172.17.9.9/24 from docker0: inside subnet 172.17.0.0/16",
		"set br0 mtu 1462 (was 1500)",
		"attach br0 to docker0",
		"set br0 up",
		"set docker0 up",
	}
	if !slices.Equal(changes, wantChanges) {
		t.Errorf("Apply:\n%s\nwant:\n%s", strings.Join(changes, "\n"), strings.Join(wantChanges, "\n"))
	}
	wantState := `br0 tun mtu 1462 master docker0 up
docker0 bridge mtu 1462 up
docker0 inet 10.99.0.1/24
docker0 inet 172.17.0.1/16`
	if s := n.state(t); s != wantState {
		t.Errorf("state:\n%s\nwant:\n%s", s, wantState)
	}
	if again := apply(t, b, want, false); again != nil {
		t.Errorf("second Apply: %q", again)
	}
}

func TestApplyRepairsDrift(t *testing.T) {
	n := newNS(t)
	n.addPort(t, "br0")
	b := New(n.h, testLogger(t))
	apply(t, b, want, false)

	n.ip(t, "link", "set", "br0", "nomaster")
	n.ip(t, "link", "set", "br0", "down")
	n.ip(t, "link", "set", "br0", "mtu", "1500")
	n.ip(t, "link", "set", "docker0", "mtu", "1400")
	n.ip(t, "link", "set", "docker0", "down")
	changes := apply(t, b, want, false)
	wantChanges := []string{
		"set docker0 mtu 1462 (was 1400)",
		"set br0 mtu 1462 (was 1500)",
		"attach br0 to docker0",
		"set br0 up",
		"set docker0 up",
	}
	if !slices.Equal(changes, wantChanges) {
		t.Errorf("Apply:\n%s\nwant:\n%s", strings.Join(changes, "\n"), strings.Join(wantChanges, "\n"))
	}
	if s := n.state(t); s != converged {
		t.Errorf("state:\n%s\nwant:\n%s", s, converged)
	}
	if again := apply(t, b, want, false); again != nil {
		t.Errorf("second Apply: %q", again)
	}
}

func TestApplyMissingPort(t *testing.T) {
	n := newNS(t)
	changes, err := New(n.h, testLogger(t)).Apply(context.Background(), want, false)
	if err == nil || !strings.Contains(err.Error(), `port "br0" of docker bridge "docker0": no such link`) {
		t.Errorf("err = %v", err)
	}
	// The bridge itself is there: Docker can start; the next pass attaches br0.
	wantChanges := []string{"create bridge docker0 mtu 1462 alias ovsmesh-owner=docker1", "add address 172.17.0.1/16 to docker0"}
	if !slices.Equal(changes, wantChanges) {
		t.Errorf("changes = %q, want %q", changes, wantChanges)
	}
	n.addPort(t, "br0")
	if _, err := New(n.h, testLogger(t)).Apply(context.Background(), want, false); err != nil {
		t.Fatal(err)
	}
	if s := n.state(t); s != converged {
		t.Errorf("state:\n%s\nwant:\n%s", s, converged)
	}
}
