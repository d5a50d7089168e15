package firewall

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"

	"github.com/ovsmesh/ovsmesh/topology"
)

// identityTab is an IdentityTable in the test namespace.
func identityTab(t *testing.T, n *testNS) *IdentityTable {
	t.Helper()
	ns, err := netns.GetFromName(n.name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return NewIdentity(slog.New(slog.NewTextHandler(io.Discard, nil)), nftables.WithNetNSFd(int(ns)))
}

// identityPlan plans the table for containers named by their veth's suffix:
// "a" is on veth "vetha" with MAC 02:42:ac:11:00:0a and 172.17.0.10, and so on;
// a name in upper case has an IPv6 address too.
func identityPlanOf(t *testing.T, names ...string) topology.Identity {
	t.Helper()
	var cs []topology.Container
	for i, n := range names {
		c := topology.Container{Name: n, Veth: "veth" + strings.ToLower(n), MAC: "02:42:ac:11:00:" + string("abcdef"[i%6]) + "0",
			IPv4: netip.AddrFrom4([4]byte{172, 17, 0, byte(10 + i)})}
		if strings.ToUpper(n) == n {
			c.IPv6 = netip.MustParseAddr("fd00::" + strings.ToLower(n))
		}
		cs = append(cs, c)
	}
	id, err := topology.PlanIdentity(cs)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func applyIdentity(t *testing.T, tab *IdentityTable, want topology.Identity) []string {
	t.Helper()
	ch, err := tab.Apply(context.Background(), want, false)
	if err != nil {
		t.Fatalf("apply: %v (changes %q)", err, ch)
	}
	return ch
}

// listedIdentity is nft's own listing of the table, counters' values and
// comments left out: chain headers and rules, one a line.
func listedIdentity(t *testing.T, n *testNS) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(n.nft(t, "list", "table", "bridge", "ovsmesh"), "\n") {
		l = strings.TrimSpace(l)
		if i := strings.Index(l, ` comment "`); i >= 0 {
			l = l[:i]
		}
		if l == "" || l == "}" || strings.HasPrefix(l, "table ") {
			continue
		}
		out = append(out, counters.ReplaceAllString(l, " counter"))
	}
	return out
}

// TestIdentityInstallsWhatNftReads: the expressions are those nft writes for
// the rules' text (nft lists them back as it), with and without IPv6; a
// second pass writes nothing; the inet table of the same name and another
// bridge table are left alone.
func TestIdentityInstallsWhatNftReads(t *testing.T) {
	n := newNS(t)
	n.nft(t, "add table bridge other; add chain bridge other pre { type filter hook prerouting priority 0; policy accept; }; add rule bridge other pre ether type arp counter drop")
	n.apply(t, plan(t, "docker0"))
	others := n.nft(t, "list", "table", "bridge", "other") + n.nft(t, "list", "table", "inet", "ovsmesh")
	tab := identityTab(t, n)
	want := identityPlanOf(t, "a", "B")
	ch := applyIdentity(t, tab, want)
	if !slices.Equal(ch, []string{"create table bridge ovsmesh", "add chain bridge ovsmesh prerouting hook prerouting priority -200",
		"add chain bridge ovsmesh from-vetha (container a, 7 rules)", "add chain bridge ovsmesh from-vethb (container B, 10 rules)"}) {
		t.Errorf("first pass: %q", ch)
	}
	wantText := []string{"chain prerouting {", "type filter hook prerouting priority filter; policy accept;",
		`iifname "vetha" jump from-vetha`, `iifname "vethb" jump from-vethb`}
	for _, c := range want.Chains {
		wantText = append(wantText, "chain "+c.Name()+" {")
		for _, r := range c.Rules {
			wantText = append(wantText, r.String())
		}
	}
	if got := listedIdentity(t, n); !slices.Equal(got, wantText) {
		t.Errorf("nft lists\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantText, "\n"))
	}
	if ch := applyIdentity(t, tab, want); len(ch) != 0 {
		t.Errorf("second pass: %q", ch)
	}
	if got := n.nft(t, "list", "table", "bridge", "other") + n.nft(t, "list", "table", "inet", "ovsmesh"); got != others {
		t.Errorf("other tables changed:\n%s\nwas\n%s", got, others)
	}
}

// handles returns the rule handles of a chain of the table.
func handles(t *testing.T, n *testNS, chain string) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`# handle (\d+)`).FindAllStringSubmatch(n.nft(t, "-a", "list", "chain", "bridge", "ovsmesh", chain), -1) {
		out = append(out, m[1])
	}
	return out
}

// TestIdentityFollowsContainers: a container that leaves takes its chain with
// it and one that comes gets one, in one pass; the chain of a container that
// stays is not rewritten (its rules keep their handles, so their counters). A
// dry run says the same and writes nothing.
func TestIdentityFollowsContainers(t *testing.T) {
	n := newNS(t)
	tab := identityTab(t, n)
	applyIdentity(t, tab, identityPlanOf(t, "a", "b"))
	kept := handles(t, n, "from-vethb")
	next := identityPlanOf(t, "c", "b")
	dry, err := tab.Apply(context.Background(), next, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"delete chain bridge ovsmesh from-vetha: no such container on the bridge now (container a)",
		"add chain bridge ovsmesh from-vethc (container c, 7 rules)", "set the jumps of chain bridge ovsmesh prerouting (2 containers)"}
	if !slices.Equal(dry, want) {
		t.Errorf("dry run:\n%s\nwant\n%s", strings.Join(dry, "\n"), strings.Join(want, "\n"))
	}
	if ch := applyIdentity(t, tab, next); !slices.Equal(ch, dry) {
		t.Errorf("pass %q, dry run said %q", ch, dry)
	}
	if got := handles(t, n, "from-vethb"); !slices.Equal(got, kept) {
		t.Errorf("from-vethb rewritten: handles %v, were %v", got, kept)
	}
	if got := strings.Join(listedIdentity(t, n), "\n"); strings.Contains(got, "vetha") || !strings.Contains(got, `iifname "vethc" jump from-vethc`) {
		t.Errorf("after the churn:\n%s", got)
	}
	st, ok, err := tab.State(context.Background(), topology.IdentityTableName)
	if err != nil || !ok || len(st) != 2 || st[0].Container == "" || len(st[0].Dropped) != 7 {
		t.Errorf("state: %v %v %+v", ok, err, st)
	}
	if ch := applyIdentity(t, tab, identityPlanOf(t)); len(ch) != 3 {
		t.Errorf("no containers: %q", ch)
	}
}

// TestIdentityRepairsDrift: a rule deleted from a container's chain, a jump
// deleted, a rule added by hand, the base chain at another priority and the
// whole table deleted are each repaired in one pass, then nothing changes.
func TestIdentityRepairsDrift(t *testing.T) {
	n := newNS(t)
	tab := identityTab(t, n)
	want := identityPlanOf(t, "a", "b")
	applyIdentity(t, tab, want)
	for _, tc := range []struct {
		name, nft string
		want      []string
	}{
		{"rule deleted", "delete rule bridge ovsmesh from-vetha handle " + handles(t, n, "from-vetha")[2],
			[]string{"replace chain bridge ovsmesh from-vetha (container a, 7 rules)", "set the jumps of chain bridge ovsmesh prerouting (2 containers)"}},
		{"rule added", "add rule bridge ovsmesh from-vethb ether type ip accept",
			[]string{"replace chain bridge ovsmesh from-vethb (container b, 7 rules)", "set the jumps of chain bridge ovsmesh prerouting (2 containers)"}},
		{"jump deleted", "flush chain bridge ovsmesh prerouting",
			[]string{"set the jumps of chain bridge ovsmesh prerouting (2 containers)"}},
		{"priority", "flush chain bridge ovsmesh prerouting; delete chain bridge ovsmesh prerouting; add chain bridge ovsmesh prerouting { type filter hook prerouting priority 0; policy accept; }",
			[]string{"replace chain bridge ovsmesh prerouting: want hook prerouting priority -200"}},
		{"chain of its own", "add chain bridge ovsmesh mine",
			[]string{"delete chain bridge ovsmesh mine: no such container on the bridge now (no jump to it)", "set the jumps of chain bridge ovsmesh prerouting (2 containers)"}},
		{"table deleted", "delete table bridge ovsmesh", []string{"create table bridge ovsmesh",
			"add chain bridge ovsmesh prerouting hook prerouting priority -200",
			"add chain bridge ovsmesh from-vetha (container a, 7 rules)", "add chain bridge ovsmesh from-vethb (container b, 7 rules)"}},
	} {
		n.nft(t, tc.nft)
		if ch := applyIdentity(t, tab, want); !slices.Equal(ch, tc.want) {
			t.Errorf("%s: repair\n%s\nwant\n%s", tc.name, strings.Join(ch, "\n"), strings.Join(tc.want, "\n"))
		}
		if ch := applyIdentity(t, tab, want); len(ch) != 0 {
			t.Errorf("%s: after the repair: %q", tc.name, ch)
		}
	}
}

// TestIdentityExprsRefuses: a rule that is not one of the plan's forms is
// refused, naming it; nothing is written for it.
func TestIdentityExprsRefuses(t *testing.T) {
	for _, tc := range []struct {
		r    topology.IdentityRule
		want string
	}{
		{topology.IdentityRule{Match: "ether saddr", Not: true, Value: "02:42", Verdict: "drop"}, `identity rule "ether saddr != 02:42 counter drop": "02:42" is not an Ethernet address`},
		{topology.IdentityRule{Match: "ip saddr", Not: true, Value: "fd00::1", Verdict: "drop"}, `identity rule "ip saddr != fd00::1 counter drop": "fd00::1" is not an IPv4 address`},
		{topology.IdentityRule{Match: "ip6 saddr", Value: "10.0.0.1", Verdict: "return"}, `identity rule "ip6 saddr 10.0.0.1 return": "10.0.0.1" is not an IPv6 address`},
		{topology.IdentityRule{Match: "ether type", Value: "ipx", Verdict: "drop"}, `identity rule "ether type ipx counter drop": ether type "ipx" is not one of ip, arp, ip6, 8021q, 8021ad`},
		{topology.IdentityRule{Match: "tcp dport", Value: "22", Verdict: "drop"}, `identity rule "tcp dport 22 counter drop": no match "tcp dport"`},
		{topology.IdentityRule{Match: "ether type", Value: "ip", Verdict: "accept"}, `identity rule "ether type ip accept": verdict "accept" is not drop or return`},
	} {
		_, err := compileIdentity(topology.Identity{Table: "ovsmesh", Chains: []topology.IdentityChain{{Veth: "v", Container: "c", Rules: []topology.IdentityRule{tc.r}}}})
		if err == nil || err.Error() != "container c: "+tc.want {
			t.Errorf("got %v, want container c: %s", err, tc.want)
		}
	}
	if _, err := compileIdentity(topology.Identity{}); err == nil {
		t.Error("no table name accepted")
	}
}
