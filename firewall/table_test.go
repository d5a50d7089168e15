package firewall

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
	"github.com/ovsmesh/ovsmesh/topology"
)

// testNS is a throwaway network namespace and a Table bound to it.
type testNS struct {
	name string
	tab  *Table
}

// newNS creates a namespace deleted when the test ends (testenv.NewNetNS: it
// skips with -short, and without root outside CI).
func newNS(t *testing.T) *testNS {
	t.Helper()
	n := &testNS{name: testenv.NewNetNS(t, "fwtest")}
	ns, err := netns.GetFromName(n.name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	n.tab = New(slog.New(slog.NewTextHandler(io.Discard, nil)), nftables.WithNetNSFd(int(ns)))
	return n
}

func (n *testNS) run(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// nft runs nft inside the namespace.
func (n *testNS) nft(t *testing.T, args ...string) string {
	t.Helper()
	return n.run(t, append([]string{"ip", "netns", "exec", n.name, "nft"}, args...)...)
}

func (n *testNS) apply(t *testing.T, want topology.Firewall) []string {
	t.Helper()
	ch, err := n.tab.Apply(context.Background(), want, false)
	if err != nil {
		t.Fatalf("apply: %v (changes %q)", err, ch)
	}
	return ch
}

func plan(t *testing.T, bridge string) topology.Firewall {
	t.Helper()
	topo, err := topology.Compile("fw.yaml", []byte("network: {encap: vxlan, vxlan_port: 4790, docker_bridge: "+bridge+"}\nhosts:\n  - {name: a, address: 192.0.2.1, index: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := topo.Desired("a")
	if err != nil {
		t.Fatal(err)
	}
	return s.Firewall
}

var counters = regexp.MustCompile(` counter packets \d+ bytes \d+`)

// listed returns nft's own listing of the table's rules, counters and comments
// left out: what nft makes of the expressions ovsmesh wrote.
func (n *testNS) listed(t *testing.T) []string {
	t.Helper()
	var rules []string
	for _, l := range strings.Split(n.nft(t, "list", "table", "inet", topology.FirewallTable), "\n") {
		l = strings.TrimSpace(l)
		if i := strings.Index(l, ` comment "`); i >= 0 {
			rules = append(rules, counters.ReplaceAllString(l[:i], " counter"))
		}
	}
	return rules
}

// TestApplyInstallsTheRulesNftReads: the expressions are the ones nft writes for
// the rules' text (nft lists them back as that text), a second pass writes
// nothing.
func TestApplyInstallsTheRulesNftReads(t *testing.T) {
	n := newNS(t)
	want := plan(t, "docker0")
	ch := n.apply(t, want)
	if len(ch) != 1+2+8 || ch[0] != "create table inet ovsmesh" {
		t.Errorf("first pass: %q", ch)
	}
	var wantText []string
	for _, c := range want.Chains {
		for _, r := range c.Rules {
			wantText = append(wantText, r.String())
		}
	}
	if got := n.listed(t); !slices.Equal(got, wantText) {
		t.Errorf("nft lists\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantText, "\n"))
	}
	if ch := n.apply(t, want); len(ch) != 0 {
		t.Errorf("second pass changed %q", ch)
	}
	out := n.nft(t, "list", "chain", "inet", "ovsmesh", "forward")
	if !strings.Contains(out, "type filter hook forward priority filter - 10; policy accept;") {
		t.Errorf("forward chain:\n%s", out)
	}
}

// TestApplyRepairsDriftAndLeavesOthersAlone: a deleted rule, a rule added by
// hand inside ovsmesh's table, a chain of the wrong priority and a deleted table
// are repaired in one pass each; a table of someone else's with the same rules
// is never touched.
func TestApplyRepairsDriftAndLeavesOthersAlone(t *testing.T) {
	n := newNS(t)
	n.nft(t, "add table inet other; add chain inet other input { type filter hook input priority 0; policy accept; }; add rule inet other input udp dport 4790 counter drop")
	other := n.nft(t, "list", "table", "inet", "other")
	want := plan(t, "docker0")
	n.apply(t, want)

	handle := regexp.MustCompile(`drop comment .* # handle (\d+)`).FindStringSubmatch(n.nft(t, "-a", "list", "chain", "inet", "ovsmesh", "input"))
	n.nft(t, "delete", "rule", "inet", "ovsmesh", "input", "handle", handle[1])
	n.nft(t, "add rule inet ovsmesh forward tcp dport 22 accept")
	ch := n.apply(t, want)
	if len(ch) != 2 || !strings.HasPrefix(ch[0], "add rule inet ovsmesh input iifname \"docker0\" meta l4proto gre") ||
		!strings.HasPrefix(ch[1], "delete rule inet ovsmesh forward handle ") {
		t.Errorf("repair: %q", ch)
	}
	if ch := n.apply(t, want); len(ch) != 0 {
		t.Errorf("after the repair: %q", ch)
	}

	n.nft(t, "delete chain inet ovsmesh forward; add chain inet ovsmesh forward { type filter hook forward priority 5; policy accept; }")
	if ch := n.apply(t, want); len(ch) != 5 || ch[0] != "replace chain inet ovsmesh forward: want hook forward priority -10" {
		t.Errorf("chain priority: %q", ch)
	}
	n.nft(t, "delete table inet ovsmesh")
	if ch := n.apply(t, want); len(ch) != 11 {
		t.Errorf("deleted table: %q", ch)
	}
	if got := n.nft(t, "list", "table", "inet", "other"); got != other {
		t.Errorf("table inet other changed:\n%s\nwas\n%s", got, other)
	}
}

// TestApplyFollowsTheBridge: renaming docker_bridge replaces the rules in one
// pass; a dry run reports the same changes and writes nothing.
func TestApplyFollowsTheBridge(t *testing.T) {
	n := newNS(t)
	n.apply(t, plan(t, "docker0"))
	next := plan(t, "dockbr")
	dry, err := n.tab.Apply(context.Background(), next, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(dry) != 2*(2+4) { // add and delete the rules that name the bridge: 2 of input, 4 of forward
		t.Errorf("dry run: %d changes %q", len(dry), dry)
	}
	if ch := n.apply(t, next); !slices.Equal(ch, dry) {
		t.Errorf("pass %q, dry run said %q", ch, dry)
	}
	if got := strings.Join(n.listed(t), "\n"); strings.Contains(got, `"docker0"`) || !strings.Contains(got, `iifname "dockbr"`) {
		t.Errorf("after the rename:\n%s", got)
	}
	st, ok, err := n.tab.State(context.Background(), topology.FirewallTable)
	if err != nil || !ok || len(st) != 8 || st[0].Rule != `iifname dockbr meta l4proto gre counter drop` {
		t.Errorf("state: %v %v %+v", ok, err, st)
	}
}
