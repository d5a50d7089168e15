package firewall

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Table converges ovsmesh's nftables table in the network namespace of its
// connection. It is safe for concurrent use: Apply calls are serialized.
type Table struct {
	conn
}

// New returns a Table for the current network namespace, or the one opts name
// (nftables.WithNetNSFd).
func New(log *slog.Logger, opts ...nftables.ConnOption) *Table {
	return &Table{conn{opts: opts, log: log, family: family}}
}

// hooks are the hooks a chain may have, by topology's name.
var hooks = map[string]nftables.ChainHook{"input": *nftables.ChainHookInput, "forward": *nftables.ChainHookForward}

// wantChain is a chain of the plan with its rules as nftables expressions.
type wantChain struct {
	topology.FirewallChain
	exprs [][]expr.Any
	udata [][]byte
}

// compile checks want and translates its rules.
func compile(want topology.Firewall) ([]wantChain, error) {
	if want.Table == "" {
		return nil, fmt.Errorf("firewall: no table name")
	}
	var out []wantChain
	for _, c := range want.Chains {
		if _, ok := hooks[c.Hook]; !ok {
			return nil, fmt.Errorf("firewall chain %q: hook %q is not input or forward", c.Name, c.Hook)
		}
		w := wantChain{FirewallChain: c}
		for _, r := range c.Rules {
			e, err := exprs(r)
			if err != nil {
				return nil, err
			}
			w.exprs, w.udata = append(w.exprs, e), append(w.udata, comment(r))
		}
		out = append(out, w)
	}
	return out, nil
}

// Apply makes the table want.Table (family inet) hold exactly want's chains and
// rules, and returns one line per change ("add rule inet ovsmesh forward ...");
// none when it already matched, in which case it wrote nothing. A table that
// differs in anything is replaced whole in one atomic batch (delete and create):
// no packet ever meets a half-written table. Rules are compared by their
// expressions and comments, not their counters. With dryRun it only reads.
func (t *Table) Apply(ctx context.Context, want topology.Firewall, dryRun bool) ([]string, error) {
	chains, err := compile(want)
	if err != nil {
		return nil, err
	}
	return t.apply(ctx, want.Table, dryRun, func(have current) ([]string, writer, error) {
		changes, err := diff(want.Table, chains, have)
		return changes, func(conn *nftables.Conn) { replace(conn, want.Table, chains, have) }, err
	})
}

// replace queues the table's replacement: delete (when it exists) and create.
func replace(conn *nftables.Conn, name string, chains []wantChain, have current) {
	tab := &nftables.Table{Name: name, Family: family}
	if have.table != nil {
		conn.DelTable(tab)
	}
	conn.AddTable(tab)
	accept := nftables.ChainPolicyAccept
	for _, c := range chains {
		hook, prio := hooks[c.Hook], nftables.ChainPriority(c.Priority)
		ch := conn.AddChain(&nftables.Chain{Name: c.Name, Table: tab, Type: nftables.ChainTypeFilter,
			Hooknum: &hook, Priority: &prio, Policy: &accept})
		for i := range c.exprs {
			conn.AddRule(&nftables.Rule{Table: tab, Chain: ch, Exprs: c.exprs[i], UserData: c.udata[i]})
		}
	}
}

// diff returns the changes that turn have into want, one line each.
func diff(table string, want []wantChain, have current) ([]string, error) {
	at := "inet " + table
	if have.table == nil {
		out := []string{"create table " + at}
		for _, c := range want {
			out = append(out, fmt.Sprintf("add chain %s %s hook %s priority %d", at, c.Name, c.Hook, c.Priority))
			for _, r := range c.Rules {
				out = append(out, fmt.Sprintf("add rule %s %s %s", at, c.Name, r))
			}
		}
		return out, nil
	}
	var out []string
	for _, hc := range have.chains {
		if !slices.ContainsFunc(want, func(w wantChain) bool { return w.Name == hc.Name }) {
			out = append(out, fmt.Sprintf("delete chain %s %s: not in the plan (%d rules)", at, hc.Name, len(have.rules[hc.Name])))
		}
	}
	for _, c := range want {
		i := slices.IndexFunc(have.chains, func(h *nftables.Chain) bool { return h.Name == c.Name })
		if i < 0 {
			out = append(out, fmt.Sprintf("add chain %s %s hook %s priority %d", at, c.Name, c.Hook, c.Priority))
			for _, r := range c.Rules {
				out = append(out, fmt.Sprintf("add rule %s %s %s", at, c.Name, r))
			}
			continue
		}
		if why := chainDiffers(c, have.chains[i]); why != "" {
			out = append(out, fmt.Sprintf("replace chain %s %s: %s", at, c.Name, why))
		}
		ch, err := diffRules(at, c, have.rules[c.Name])
		if err != nil {
			return nil, err
		}
		out = append(out, ch...)
	}
	return out, nil
}

// chainDiffers says how a chain's hook, priority, type or policy differ from
// the plan's ("" when they do not).
func chainDiffers(want wantChain, have *nftables.Chain) string {
	hook := hooks[want.Hook]
	switch {
	case have.Hooknum == nil || *have.Hooknum != hook || have.Priority == nil || int(*have.Priority) != want.Priority:
		return fmt.Sprintf("want hook %s priority %d", want.Hook, want.Priority)
	case have.Type != nftables.ChainTypeFilter:
		return fmt.Sprintf("type %s, want filter", have.Type)
	case have.Policy == nil || *have.Policy != nftables.ChainPolicyAccept:
		return "policy is not accept"
	}
	return ""
}

// diffRules compares a chain's rules, in order, with the plan's.
func diffRules(at string, want wantChain, have []*nftables.Rule) ([]string, error) {
	var out []string
	matched := make([]bool, len(have))
	inOrder := len(have) == len(want.exprs)
	for i := range want.exprs {
		found := -1
		for j, h := range have {
			same, err := sameRule(h, want.exprs[i], want.udata[i])
			if err != nil {
				return nil, err
			}
			if same && !matched[j] {
				found = j
				break
			}
		}
		if found < 0 {
			out = append(out, fmt.Sprintf("add rule %s %s %s", at, want.Name, want.Rules[i]))
			inOrder = false
			continue
		}
		matched[found] = true
		inOrder = inOrder && found == i
	}
	for j, h := range have {
		if !matched[j] {
			what := ruleText(h)
			if what == "" {
				what = fmt.Sprintf("%d expressions", len(h.Exprs))
			}
			out = append(out, fmt.Sprintf("delete rule %s %s handle %d: not in the plan (%s)", at, want.Name, h.Handle, what))
		}
	}
	if len(out) == 0 && !inOrder {
		out = append(out, fmt.Sprintf("reorder the rules of chain %s %s", at, want.Name))
	}
	return out, nil
}

// RuleState is one rule of ovsmesh's table as `ovsmesh status` shows it.
type RuleState struct {
	Chain   string `json:"chain"`
	Rule    string `json:"rule"` // its comment: the text it was written with
	Packets uint64 `json:"packets"`
}

// State reads the table: its rules with the packets each dropped; nil when the
// table does not exist. It changes nothing.
func (t *Table) State(ctx context.Context, table string) ([]RuleState, bool, error) {
	cur, err := t.state(ctx, table)
	if err != nil || cur.table == nil {
		return nil, false, err
	}
	var out []RuleState
	for _, c := range cur.chains {
		for _, r := range cur.rules[c.Name] {
			out = append(out, RuleState{Chain: c.Name, Rule: ruleText(r), Packets: packets(r)})
		}
	}
	return out, true, nil
}
