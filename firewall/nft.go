package firewall

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/google/nftables"
)

// conn is what Table and IdentityTable share: one table of one family, read
// and written through a connection made with opts, with Apply calls
// serialized by mu.
type conn struct {
	mu     sync.Mutex
	opts   []nftables.ConnOption
	log    *slog.Logger
	family nftables.TableFamily
}

// current is what the kernel holds of the table: nil table when there is none.
type current struct {
	table  *nftables.Table
	chains []*nftables.Chain
	rules  map[string][]*nftables.Rule // by chain
}

// writer queues a plan's writes on a connection, to be flushed in one batch.
type writer func(*nftables.Conn)

// apply reads the table name, asks plan for the changes that turn it into
// the plan and the writes that make them, and, unless there are none or
// dryRun, flushes those writes in one atomic batch. It holds the lock
// throughout.
func (c *conn) apply(ctx context.Context, name string, dryRun bool,
	plan func(have current) ([]string, writer, error)) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	nc, err := nftables.New(c.opts...)
	if err != nil {
		return nil, fmt.Errorf("open nftables: %w", err)
	}
	have, err := read(nc, c.family, name)
	if err != nil {
		return nil, err
	}
	changes, write, err := plan(have)
	if err != nil || len(changes) == 0 || dryRun {
		return changes, err
	}
	write(nc)
	if err := nc.Flush(); err != nil {
		return nil, fmt.Errorf("write nftables table %s %s (%d changes): %w", familyName(c.family), name, len(changes), err)
	}
	c.log.Debug("nftables table changed", "family", familyName(c.family), "table", name, "changes", len(changes))
	return changes, nil
}

// state reads the table name for a report; it changes nothing.
func (c *conn) state(ctx context.Context, name string) (current, error) {
	if err := ctx.Err(); err != nil {
		return current{}, err
	}
	nc, err := nftables.New(c.opts...)
	if err != nil {
		return current{}, fmt.Errorf("open nftables: %w", err)
	}
	return read(nc, c.family, name)
}

// read reads the table name of the family, its chains and their rules.
func read(conn *nftables.Conn, family nftables.TableFamily, name string) (current, error) {
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
