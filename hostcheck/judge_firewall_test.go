package hostcheck

import (
	"net/netip"
	"os"
	"strings"
	"testing"
)

var (
	fwPeers = []Peer{{"docker2", netip.MustParseAddr("198.18.0.2")}, {"docker3", netip.MustParseAddr("198.18.0.3")}}
	fwGRE   = FirewallPlan{Encap: "gre", Local: local, Peers: fwPeers, Datapath: "system"}
	fwVXLAN = FirewallPlan{Encap: "vxlan", Port: 4789, Local: local, Peers: fwPeers, Datapath: "netdev"}
)

// chainsOf parses a ruleset that real nft 1.0.6 printed (testdata).
func chainsOf(t *testing.T, name string) []NftChain {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	chains, err := ParseNftRuleset(b)
	if err != nil {
		t.Fatal(err)
	}
	return chains
}

// nft-drop.json, chain inet f inp (policy accept):
//
//	tcp dport 22 drop                              # handle 2
//	ip protocol gre drop                           # handle 3
//	ip saddr 198.18.0.0/24 udp dport 4789 reject   # handle 4
func TestJudgeFirewallDrop(t *testing.T) {
	f := FirewallFacts{Chains: chainsOf(t, "nft-drop.json")}
	got := itemsText(JudgeFirewall(fwGRE, f))
	for _, want := range []string{
		"warning  firewall nftables inet f inp rule 3: input hook: rule handle 3 drops GRE (IP protocol 47) from docker2 (198.18.0.2), docker3 (198.18.0.3) (sure: check understands every part of the rule); the kernel datapath (system) receives tunnel packets through this hook",
		"fix: accept them before it: nft insert rule inet f inp position 3 ip saddr { 198.18.0.2, 198.18.0.3 } meta l4proto gre accept",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("gre: lacks %q in\n%s", want, got)
		}
	}
	got = itemsText(JudgeFirewall(fwVXLAN, f))
	for _, want := range []string{
		"warning  firewall nftables inet f inp rule 4: input hook: rule handle 4 rejects VXLAN (UDP port 4789) from docker2 (198.18.0.2), docker3 (198.18.0.3) (sure:",
		"userspace datapath (netdev) takes tunnel packets before the kernel's firewall, so it bypasses this",
		"udp dport 4789 accept",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("vxlan: lacks %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "rule 3") || strings.Contains(got, "rule 2") {
		t.Errorf("vxlan: reports a rule that does not match UDP 4789:\n%s", got)
	}
	other := fwVXLAN
	other.Port = 4790
	if got := itemsText(JudgeFirewall(other, f)); !strings.HasPrefix(got, "ok       firewall nftables: no input or forward chain drops VXLAN (UDP port 4790)") {
		t.Errorf("port 4790: got\n%s", got)
	}
}

// nft-policy.json, chain ip filter INPUT (policy drop):
//
//	ct state established,related accept            # handle 2
//	ip saddr 198.18.0.2 accept                     # handle 3
//	iifname "eth0" udp dport { 4789, 8472 } drop   # handle 5 (the anonymous set took 4)
//
// and chain FORWARD with policy drop and no rule, and a regular chain "mine".
func TestJudgeFirewallPolicy(t *testing.T) {
	f := FirewallFacts{Chains: chainsOf(t, "nft-policy.json")}
	got := itemsText(JudgeFirewall(fwVXLAN, f))
	for _, want := range []string{
		"warning  firewall nftables ip filter INPUT rule 5: input hook: rule handle 5 drops VXLAN (UDP port 4789) from docker3 (198.18.0.3) (not sure: it also matches on meta iifname, which check cannot evaluate)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("vxlan: lacks %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "docker2") || strings.Contains(got, "FORWARD") || strings.Contains(got, "mine") {
		t.Errorf("reports an accepted peer, a forward policy or a regular chain:\n%s", got)
	}
	got = itemsText(JudgeFirewall(fwGRE, f))
	want := "warning  firewall nftables ip filter INPUT policy drop: input hook: the chain's policy drops (no rule accepts them first) GRE (IP protocol 47) from docker3 (198.18.0.3) (not sure: rule handle 2 before it may accept them)"
	if !strings.Contains(got, want) || !strings.Contains(got, "fix: accept them: nft add rule ip filter INPUT ip saddr { 198.18.0.3 } meta l4proto gre accept") {
		t.Errorf("gre: lacks %q in\n%s", want, got)
	}
}

func TestJudgeFirewallNoNft(t *testing.T) {
	if got := itemsText(JudgeFirewall(fwGRE, FirewallFacts{NoNft: true})); !strings.HasPrefix(got, "ok       firewall nftables: no nftables (nft is not installed)") {
		t.Errorf("got\n%s", got)
	}
	if got := itemsText(JudgeFirewall(fwGRE, FirewallFacts{})); !strings.HasPrefix(got, "ok       firewall nftables: no input or forward chain drops GRE") {
		t.Errorf("empty ruleset: got\n%s", got)
	}
}

// A policy drop behind a jump (ufw's layout): check cannot be sure.
func TestJudgeFirewallJump(t *testing.T) {
	ruleset := `{"nftables": [
	{"chain": {"family": "ip", "table": "filter", "name": "INPUT", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
	{"chain": {"family": "ip", "table": "filter", "name": "ufw-before-input", "handle": 2}},
	{"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 3, "expr": [{"jump": {"target": "ufw-before-input"}}]}}]}`
	chains, err := ParseNftRuleset([]byte(ruleset))
	if err != nil {
		t.Fatal(err)
	}
	got := itemsText(JudgeFirewall(fwGRE, FirewallFacts{Chains: chains}))
	want := "warning  firewall nftables ip filter INPUT policy drop: input hook: the chain's policy drops (no rule accepts them first) GRE (IP protocol 47) from docker2 (198.18.0.2), docker3 (198.18.0.3) (not sure: rule handle 3 before it jumps to a chain check does not follow, which may accept them)"
	if !strings.Contains(got, want) {
		t.Errorf("lacks %q in\n%s", want, got)
	}
}

// ovsmesh's own table drops tunnel packets from docker0 only: check does not
// warn about it (it cannot evaluate iifname, and would otherwise be unsure).
func TestJudgeFirewallOwnTable(t *testing.T) {
	rule := func(table string) string {
		return `{"rule": {"family": "inet", "table": "` + table + `", "chain": "input", "handle": 2, "expr": [
		{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "docker0"}},
		{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "gre"}}, {"counter": null}, {"drop": null}]}}`
	}
	for table, warn := range map[string]bool{"ovsmesh": false, "other": true} {
		ruleset := `{"nftables": [
	{"chain": {"family": "inet", "table": "` + table + `", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": -10, "policy": "accept"}},
	` + rule(table) + `]}`
		chains, err := ParseNftRuleset([]byte(ruleset))
		if err != nil {
			t.Fatal(err)
		}
		got := itemsText(JudgeFirewall(fwGRE, FirewallFacts{Chains: chains}))
		if strings.Contains(got, "warning  firewall") != warn {
			t.Errorf("table inet %s: got\n%s", table, got)
		}
	}
}
