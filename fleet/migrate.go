package fleet

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// migrateChunk is how many hosts one migration transaction converts: five
// operations each (the new record and two claims, the old record and index key
// deleted), within etcd's 128.
const migrateChunk = 25

// Migrate converts a fleet of the layout before per-host prefixes (records at
// hosts/<name>, indexes at index/<n>, liveness at alive/<name>): each old record
// whose index key names it becomes a record under hosts/<name>/ with the same
// index and address, and without a machine-id, so that every host keeps it in
// its plan until its machine joins with this version and adopts it, exactly as
// after fleet init. The old record and index key are deleted in the same
// transaction; the old liveness keys expire with their leases. Old records that
// were skipped already (bad, or their index not theirs) are left and returned.
// It needs the operator's identity.
func (c *Client) Migrate(ctx context.Context) (moved []Record, left []Stale, err error) {
	todo, left, err := c.oldRecords(ctx)
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(todo, func(a, b oldRecord) int { return a.r.Index - b.r.Index })
	for lo := 0; lo < len(todo); lo += migrateChunk {
		var cmps []clientv3.Cmp
		var ops []clientv3.Op
		for _, o := range todo[lo:min(lo+migrateChunk, len(todo))] {
			seed, err := c.seedOps(o.r)
			if err != nil {
				return moved, left, err
			}
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(c.Keys.Host(o.r.Name)), "=", 0),
				clientv3.Compare(clientv3.ModRevision(c.Keys.oldHost(o.r.Name)), "=", o.modRev))
			ops = append(append(ops, seed...), clientv3.OpDelete(c.Keys.oldHost(o.r.Name)),
				clientv3.OpDelete(c.Keys.oldIndexes()+strconv.Itoa(o.r.Index)))
		}
		resp, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
			return c.etcd.Txn(ctx).If(cmps...).Then(ops...).Commit()
		})
		if err != nil {
			return moved, left, fmt.Errorf("migrate hosts %d to %d of %d in etcd: %w", lo+1, min(lo+migrateChunk, len(todo)), len(todo), err)
		}
		if !resp.Succeeded {
			return moved, left, fmt.Errorf("migrate hosts %d to %d of %d: a record changed meanwhile (or is already converted): run fleet migrate again", lo+1, min(lo+migrateChunk, len(todo)), len(todo))
		}
		for _, o := range todo[lo:min(lo+migrateChunk, len(todo))] {
			moved = append(moved, o.r)
		}
	}
	return moved, left, nil
}

// oldRecord is a record of the layout before per-host keys.
type oldRecord struct {
	r      Record
	modRev int64
}

// oldRecords reads the old records whose index key names them (todo), and the
// others (left, with the reason).
func (c *Client) oldRecords(ctx context.Context) (todo []oldRecord, left []Stale, err error) {
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.GetResponse, error) {
		return c.etcd.Get(ctx, c.Keys.Prefix(), clientv3.WithPrefix())
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read %s from etcd: %w", c.Keys.Prefix(), err)
	}
	owner := map[int]string{}
	for _, e := range resp.Kvs {
		if n, err := strconv.Atoi(strings.TrimPrefix(string(e.Key), c.Keys.oldIndexes())); err == nil && strings.HasPrefix(string(e.Key), c.Keys.oldIndexes()) {
			owner[n] = string(e.Value)
		}
	}
	for _, e := range resp.Kvs {
		p := c.Keys.parse(string(e.Key))
		if p.kind != kindOldRecord {
			continue
		}
		r, err := parseRecord(p.host, e.Value)
		switch {
		case err != nil:
			left = append(left, Stale{string(e.Key), err.Error()})
		case owner[r.Index] != r.Name:
			left = append(left, Stale{string(e.Key), fmt.Sprintf("index %d is not claimed by %s (%sindex/%d holds %q)", r.Index, r.Name, c.Keys.Prefix(), r.Index, owner[r.Index])})
		default:
			todo = append(todo, oldRecord{r, e.ModRevision})
		}
	}
	return todo, left, nil
}
