package fleet

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// kv is what a view keeps of one stored key: the value only for the keys whose
// value it reads (network settings, records, liveness) and only up to their
// limit, so that junk under a host's prefix costs no memory.
type kv struct {
	value     []byte
	createRev int64
	tooBig    int // the length of a value over its limit, which is not kept
}

// keep is what a view keeps of a key, or false for a key outside the ranges a
// view reads (the network settings and the hosts/ prefix).
func (k Keys) keep(key string, value []byte, createRev int64) (kv, bool) {
	p := k.parse(key)
	if p.kind == kindJunk && key != k.Network() && !hasPrefix(key, k.Hosts()) {
		return kv{}, false
	}
	e := kv{createRev: createRev}
	switch {
	case !keepsValue(p.kind):
	case len(value) > valueLimit(p.kind):
		e.tooBig = len(value)
	default:
		e.value = append([]byte(nil), value...)
	}
	return e, true
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// readBatch is how many values one transaction reads (etcd takes at most 128
// operations in one).
const readBatch = 100

// list reads, at one revision, the keys a view needs: the network settings and
// everything under hosts/. The hosts/ range is read without values first; only
// the values of records and liveness keys are then read, in batches at the same
// revision. Other keys (claims, junk) are kept by name and revision only.
func (c *Client) list(ctx context.Context) (map[string]kv, int64, error) {
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).Then(clientv3.OpGet(c.Keys.Network()),
			clientv3.OpGet(c.Keys.Hosts(), clientv3.WithPrefix(), clientv3.WithKeysOnly())).Commit()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read %s from etcd: %w", c.Keys.Prefix(), err)
	}
	rev := resp.Header.Revision
	out := map[string]kv{}
	for _, e := range resp.Responses[0].GetResponseRange().Kvs {
		out[string(e.Key)], _ = c.Keys.keep(string(e.Key), e.Value, e.CreateRevision)
	}
	var need []string
	for _, e := range resp.Responses[1].GetResponseRange().Kvs {
		key := string(e.Key)
		if keepsValue(c.Keys.parse(key).kind) {
			need = append(need, key)
			continue
		}
		out[key], _ = c.Keys.keep(key, nil, e.CreateRevision)
	}
	for lo := 0; lo < len(need); lo += readBatch {
		var ops []clientv3.Op
		for _, key := range need[lo:min(lo+readBatch, len(need))] {
			ops = append(ops, clientv3.OpGet(key, clientv3.WithRev(rev)))
		}
		r, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) { return c.etcd.Txn(ctx).Then(ops...).Commit() })
		if err != nil {
			return nil, 0, fmt.Errorf("read %s from etcd at revision %d: %w", c.Keys.Hosts(), rev, err)
		}
		for _, one := range r.Responses {
			for _, e := range one.GetResponseRange().Kvs {
				out[string(e.Key)], _ = c.Keys.keep(string(e.Key), e.Value, e.CreateRevision)
			}
		}
	}
	return out, rev, nil
}
