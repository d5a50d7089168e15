package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Cut breaks the underlay path between two addresses of the lab, both ways: an
// nftables rule in the underlay namespace's bridge drops IP packets between them
// (the hosts' links stay up, as when a firewall or a router in between fails).
// Other paths are untouched. The returned function restores the path. Cuts of
// different pairs may overlap.
func (l *Lab) Cut(ctx context.Context, a, b netip.Addr) (restore func(context.Context) error, err error) {
	if _, err := exec.LookPath("nft"); err != nil {
		return nil, fmt.Errorf("cut %s-%s: nft (package nftables) is needed: %w", a, b, err)
	}
	family := "ip"
	if a.Is6() {
		family = "ip6"
	}
	table := "omcut_" + strings.NewReplacer(".", "_", ":", "_").Replace(a.String()+"_"+b.String())
	// One file, one transaction: both directions are cut at the same instant.
	rules := fmt.Sprintf("table bridge %s {\n\tchain path {\n\t\ttype filter hook forward priority 0; policy accept;\n"+
		"\t\t%[2]s saddr %[3]s %[2]s daddr %[4]s drop\n\t\t%[2]s saddr %[4]s %[2]s daddr %[3]s drop\n\t}\n}\n", table, family, a, b)
	file := filepath.Join(l.Dir, table+".nft")
	if err := os.WriteFile(file, []byte(rules), 0o644); err != nil {
		return nil, fmt.Errorf("cut %s-%s: %w", a, b, err)
	}
	if _, err := run(ctx, nil, "ip", "netns", "exec", l.UnderlayNS, "nft", "-f", file); err != nil {
		return nil, fmt.Errorf("cut %s-%s: %w", a, b, err)
	}
	return func(ctx context.Context) error {
		if _, err := run(ctx, nil, "ip", "netns", "exec", l.UnderlayNS, "nft", "delete", "table", "bridge", table); err != nil {
			return fmt.Errorf("restore %s-%s: %w", a, b, err)
		}
		return nil
	}, nil
}
