package firewall

import (
	"context"
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
	cur, err := t.state(ctx, table)
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
