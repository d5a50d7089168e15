package hostcheck

import (
	"context"
	"os/exec"
	"strings"
	"time"
)

// nftTimeout bounds `nft -j list ruleset`.
const nftTimeout = 10 * time.Second

// ProbeFirewall reads this network namespace's nftables ruleset with
// `nft -j list ruleset`. It changes nothing.
func ProbeFirewall(ctx context.Context) FirewallFacts {
	path, err := exec.LookPath("nft")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nft", "/sbin/nft"} { // root's PATH may lack sbin
			if _, err := exec.LookPath(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		return FirewallFacts{NoNft: true}
	}
	ctx, cancel := context.WithTimeout(ctx, nftTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-j", "list", "ruleset")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return FirewallFacts{Err: path + " -j list ruleset: " + msg}
	}
	if len(strings.TrimSpace(string(out))) == 0 {
		return FirewallFacts{} // an empty ruleset prints nothing
	}
	chains, err := ParseNftRuleset(out)
	if err != nil {
		return FirewallFacts{Err: err.Error()}
	}
	return FirewallFacts{Chains: chains}
}
