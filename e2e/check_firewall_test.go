package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// TestCheckFirewall: an nftables input rule in the host's namespace that drops
// GRE is reported as a warning naming the rule and the peers, with the accept
// rule that fixes it; warnings alone leave the exit status 0. The lab's
// userspace datapath does bypass the rule: containers still ping across GRE.
func TestCheckFirewall(t *testing.T) {
	testenv.RequireBinary(t, "nft", "nftables")
	c := newCluster(t, labTopology("  encap: gre\n", 3))
	out, err := c.check("docker1")
	t.Logf("no ruleset:\n%s", out)
	if err != nil || !strings.Contains(out, "ok       firewall nftables: no input or forward chain drops GRE (IP protocol 47) from the peers") {
		t.Fatalf("no ruleset: %v", err)
	}
	h := c.host("docker1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, argv := range [][]string{
		{"nft", "add", "table", "inet", "chk"},
		{"nft", "add chain inet chk in { type filter hook input priority 0; policy accept; }"},
		{"nft", "add", "rule", "inet", "chk", "in", "tcp", "dport", "22", "drop"},
		{"nft", "add", "rule", "inet", "chk", "in", "ip", "protocol", "gre", "drop"},
	} {
		if _, err := h.Run(ctx, argv...); err != nil {
			t.Fatal(err)
		}
	}
	out, err = c.check("docker1")
	t.Logf("ip protocol gre drop:\n%s", out)
	if err != nil {
		t.Errorf("warnings only: exit %v, want 0", err)
	}
	// The claim that the userspace datapath bypasses the rule, for real: GRE
	// between the hosts' containers crosses it.
	c.mustApply("docker1", "docker2")
	ping(t, c.container("docker1", 2), c.container("docker2", 2).Addr.Addr(), 100, false)
	for _, want := range []string{
		"warning  firewall nftables inet chk in rule 3: input hook: rule handle 3 drops GRE (IP protocol 47) from docker2 (198.18.0.2), docker3 (198.18.0.3) (sure: check understands every part of the rule); this topology's userspace datapath (netdev) takes tunnel packets before the kernel's firewall, so it bypasses this; the kernel datapath (system) would not",
		"fix: accept them before it: nft insert rule inet chk in position 3 ip saddr { 198.18.0.2, 198.18.0.3 } meta l4proto gre accept",
		"docker1: ",
		" 2 warnings, 0 problems", // and Docker's: not running
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	checkFirewallJSON(t, c)
}

// checkFirewallJSON: -o json carries the same warning, with its fix.
func checkFirewallJSON(t *testing.T, c *cluster) {
	out, err := c.check("docker1", "-o", "json")
	var rep struct {
		Items []struct{ Check, Status, Subject, Fix string }
	}
	if jerr := json.Unmarshal([]byte(out), &rep); err != nil || jerr != nil {
		t.Fatalf("-o json: %v %v\n%s", err, jerr, out)
	}
	var warned bool
	for _, it := range rep.Items {
		warned = warned || it.Check == "firewall" && it.Status == "warning" && it.Subject == "nftables inet chk in rule 3" && strings.Contains(it.Fix, "meta l4proto gre accept")
	}
	if !warned {
		t.Errorf("-o json lacks the firewall warning:\n%s", out)
	}
}
