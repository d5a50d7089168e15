package firewall

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/ovsmesh/ovsmesh/topology"
)

// bridgeFamily is the identity table's family: bridged frames.
const bridgeFamily = nftables.TableFamilyBridge

// identityBase is the identity table's base chain (hook prerouting).
const identityBase = "prerouting"

// IdentityTable converges ovsmesh's nftables table of family bridge, the
// per-container identity checks (see topology.IdentityRules), in the network
// namespace of its connection. It is safe for concurrent use: Apply calls are
// serialized. It never reads for change, writes or deletes any other table:
// not the table of family inet of the same name (Table's), nor Docker's or
// the operator's.
type IdentityTable struct {
	conn
}

// NewIdentity returns an IdentityTable for the current network namespace, or
// the one opts name (nftables.WithNetNSFd).
func NewIdentity(log *slog.Logger, opts ...nftables.ConnOption) *IdentityTable {
	return &IdentityTable{conn{opts: opts, log: log, family: bridgeFamily}}
}

// wantIdentity is the plan compiled into expressions.
type wantIdentity struct {
	table  string
	jumps  []compiled // the base chain's rules, one per container
	chains []identChain
}

// compiled is one rule's expressions and user data.
type compiled struct {
	exprs []expr.Any
	udata []byte
}

// identChain is one container's chain, compiled.
type identChain struct {
	topology.IdentityChain
	rules []compiled
}

func compileIdentity(want topology.Identity) (wantIdentity, error) {
	w := wantIdentity{table: want.Table}
	if want.Table == "" {
		return w, fmt.Errorf("identity: no table name")
	}
	for _, c := range want.Chains {
		ic := identChain{IdentityChain: c}
		for _, r := range c.Rules {
			e, err := identityExprs(r)
			if err != nil {
				return w, fmt.Errorf("container %s: %w", c.Container, err)
			}
			ic.rules = append(ic.rules, compiled{e, identityComment(r.String())})
		}
		w.chains = append(w.chains, ic)
		w.jumps = append(w.jumps, compiled{jumpExprs(c), identityComment(jumpText(c))})
	}
	return w, nil
}

// Apply makes the table want.Table (family bridge) hold exactly want's chains:
// the base chain "prerouting" (type filter, hook prerouting, priority -200,
// policy accept) with one jump per container's veth, and each container's
// chain. It returns one line per change; none when the table already matched,
// in which case it wrote nothing. The changes go in one atomic batch, chain by
// chain: a container's chain that matches is left as it is, with its counters,
// when others come and go. With dryRun it only reads.
func (t *IdentityTable) Apply(ctx context.Context, want topology.Identity, dryRun bool) ([]string, error) {
	w, err := compileIdentity(want)
	if err != nil {
		return nil, err
	}
	return t.apply(ctx, w.table, dryRun, func(have current) ([]string, writer, error) {
		p, err := planIdentity(w, have)
		return p.changes, func(conn *nftables.Conn) { p.write(conn, w, have) }, err
	})
}

// identityPlan is what Apply writes: the changes as text and what they take.
type identityPlan struct {
	changes  []string
	newTable bool
	newBase  bool              // (re)create the base chain
	jumps    bool              // rewrite the base chain's rules
	del      []*nftables.Chain // chains to delete
	set      map[string]bool   // container chains to (re)write, by name
	exists   map[string]bool   // of those, the ones that exist
	base     *nftables.Chain   // the base chain as read, nil if none
}

// planIdentity compares the plan with the table as read.
func planIdentity(w wantIdentity, have current) (identityPlan, error) {
	at := "bridge " + w.table
	p := identityPlan{set: map[string]bool{}, exists: map[string]bool{}}
	if have.table == nil {
		p.newTable, p.newBase, p.jumps = true, true, true
		p.changes = append(p.changes, "create table "+at,
			fmt.Sprintf("add chain %s %s hook prerouting priority %d", at, identityBase, topology.IdentityPriority))
	}
	for _, hc := range have.chains {
		switch {
		case hc.Name == identityBase:
			p.base = hc
		case !slices.ContainsFunc(w.chains, func(c identChain) bool { return c.Name() == hc.Name }):
			p.del = append(p.del, hc)
			p.changes = append(p.changes, fmt.Sprintf("delete chain %s %s: no such container on the bridge now (%s)", at, hc.Name, chainOwner(have, hc.Name)))
		}
	}
	if have.table != nil && (p.base == nil || baseDiffers(p.base)) {
		p.newBase, p.jumps = true, true
		p.changes = append(p.changes, fmt.Sprintf("replace chain %s %s: want hook prerouting priority %d", at, identityBase, topology.IdentityPriority))
	}
	for _, c := range w.chains {
		why, err := chainDiff(c, have)
		if err != nil {
			return p, err
		}
		if why != "" {
			p.set[c.Name()] = true
			// A chain that exists is deleted and made again, so its jump goes
			// first and comes back after it (see write).
			p.exists[c.Name()] = why == "replace"
			p.jumps = p.jumps || why == "replace"
			p.changes = append(p.changes, fmt.Sprintf("%s chain %s %s (container %s, %d rules)", why, at, c.Name(), c.Container, len(c.rules)))
		}
	}
	if !p.jumps {
		same, err := sameRules(have.rules[identityBase], w.jumps)
		if err != nil {
			return p, err
		}
		p.jumps = !same || len(p.del) > 0
	}
	if p.jumps && !p.newBase {
		p.changes = append(p.changes, fmt.Sprintf("set the jumps of chain %s %s (%d containers)", at, identityBase, len(w.jumps)))
	}
	return p, nil
}

// chainDiff says whether a container's chain is to be added ("add"),
// rewritten ("replace") or kept ("").
func chainDiff(c identChain, have current) (string, error) {
	i := slices.IndexFunc(have.chains, func(h *nftables.Chain) bool { return h.Name == c.Name() })
	if i < 0 {
		return "add", nil
	}
	if have.chains[i].Hooknum != nil {
		return "replace", nil // a base chain of that name: not ours
	}
	same, err := sameRules(have.rules[c.Name()], c.rules)
	if err != nil || same {
		return "", err
	}
	return "replace", nil
}

// sameRules reports whether rules read from the kernel are want, in order.
func sameRules(have []*nftables.Rule, want []compiled) (bool, error) {
	if len(have) != len(want) {
		return false, nil
	}
	for i, h := range have {
		same, err := sameRule(h, want[i].exprs, want[i].udata)
		if err != nil || !same {
			return false, err
		}
	}
	return true, nil
}

// baseDiffers reports whether the base chain is not the plan's.
func baseDiffers(c *nftables.Chain) bool {
	return c.Hooknum == nil || *c.Hooknum != *nftables.ChainHookPrerouting || c.Priority == nil ||
		int(*c.Priority) != topology.IdentityPriority || c.Type != nftables.ChainTypeFilter ||
		c.Policy == nil || *c.Policy != nftables.ChainPolicyAccept
}

// chainOwner names the container whose jump leads to a chain, from the jump's
// comment ("container c1"), or says there is no jump.
func chainOwner(have current, chain string) string {
	for _, r := range have.rules[identityBase] {
		for _, e := range r.Exprs {
			if v, ok := e.(*expr.Verdict); ok && v.Chain == chain {
				return strings.TrimSpace(ruleText(r))
			}
		}
	}
	return "no jump to it"
}
