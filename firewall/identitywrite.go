package firewall

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/ovsmesh/ovsmesh/topology"
)

// write queues p's changes on conn, in an order the kernel accepts in one
// batch: the base chain's jumps go before the chains they lead to are deleted
// or replaced, and come back after the chains exist.
func (p identityPlan) write(conn *nftables.Conn, w wantIdentity, have current) {
	tab := &nftables.Table{Name: w.table, Family: bridgeFamily}
	if p.newTable {
		conn.AddTable(tab)
	}
	base := &nftables.Chain{Name: identityBase, Table: tab}
	if p.base != nil && (p.newBase || p.jumps) {
		conn.FlushChain(base)
	}
	if p.base != nil && p.newBase {
		conn.DelChain(base)
	}
	for _, c := range p.del {
		conn.FlushChain(&nftables.Chain{Name: c.Name, Table: tab})
		conn.DelChain(&nftables.Chain{Name: c.Name, Table: tab})
	}
	if p.newBase {
		accept, prio := nftables.ChainPolicyAccept, nftables.ChainPriority(topology.IdentityPriority)
		base = conn.AddChain(&nftables.Chain{Name: identityBase, Table: tab, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookPrerouting, Priority: &prio, Policy: &accept})
	}
	for _, c := range w.chains {
		if !p.set[c.Name()] {
			continue
		}
		ch := &nftables.Chain{Name: c.Name(), Table: tab}
		if p.exists[c.Name()] {
			conn.FlushChain(ch)
			conn.DelChain(ch) // it may have been made a base chain by hand
		}
		conn.AddChain(ch)
		for _, r := range c.rules {
			conn.AddRule(&nftables.Rule{Table: tab, Chain: ch, Exprs: r.exprs, UserData: r.udata})
		}
	}
	if p.jumps {
		for _, j := range w.jumps {
			conn.AddRule(&nftables.Rule{Table: tab, Chain: base, Exprs: j.exprs, UserData: j.udata})
		}
	}
}

// readFamily reads the table name of the family, its chains and their rules
// (read does it for family inet).
func readFamily(conn *nftables.Conn, family nftables.TableFamily, name string) (current, error) {
	var cur current
	at := fmt.Sprintf("%s %s", familyName(family), name)
	tables, err := conn.ListTablesOfFamily(family)
	if err != nil {
		return cur, fmt.Errorf("list nftables tables: %w", err)
	}
	for _, tb := range tables {
		if tb.Name == name {
			cur.table = tb
		}
	}
	if cur.table == nil {
		return cur, nil
	}
	chains, err := conn.ListChainsOfTableFamily(family)
	if err != nil {
		return cur, fmt.Errorf("list the chains of table %s: %w", at, err)
	}
	cur.rules = map[string][]*nftables.Rule{}
	for _, c := range chains {
		if c.Table.Name != name {
			continue
		}
		cur.chains = append(cur.chains, c)
		rules, err := conn.GetRules(cur.table, c)
		if err != nil {
			return cur, fmt.Errorf("list the rules of chain %s of table %s: %w", c.Name, at, err)
		}
		cur.rules[c.Name] = rules
	}
	return cur, nil
}

func familyName(f nftables.TableFamily) string {
	if f == bridgeFamily {
		return "bridge"
	}
	return "inet"
}

// IdentityState is one container's chain as `ovsmesh status` shows it.
type IdentityState struct {
	Chain     string `json:"chain"`
	Container string `json:"container"` // from its jump's comment; "" without one
	// Dropped is the packets each counted rule dropped, by the rule's text.
	Dropped map[string]uint64 `json:"dropped"`
}

// State reads the identity table: one entry per container chain, in the
// table's order; false when the table does not exist. It changes nothing.
func (t *IdentityTable) State(ctx context.Context, table string) ([]IdentityState, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	conn, err := nftables.New(t.opts...)
	if err != nil {
		return nil, false, fmt.Errorf("open nftables: %w", err)
	}
	cur, err := readFamily(conn, bridgeFamily, table)
	if err != nil || cur.table == nil {
		return nil, false, err
	}
	var out []IdentityState
	for _, c := range cur.chains {
		if c.Name == identityBase {
			continue
		}
		s := IdentityState{Chain: c.Name, Dropped: map[string]uint64{}}
		if o := chainOwner(cur, c.Name); strings.HasPrefix(o, "container ") {
			s.Container = strings.TrimPrefix(o, "container ")
		}
		for _, r := range cur.rules[c.Name] {
			if hasCounter(r) {
				s.Dropped[ruleText(r)] = packets(r)
			}
		}
		out = append(out, s)
	}
	return out, true, nil
}

func hasCounter(r *nftables.Rule) bool {
	for _, e := range r.Exprs {
		if _, ok := e.(*expr.Counter); ok {
			return true
		}
	}
	return false
}
