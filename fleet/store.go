package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNotInitialized is returned when the cluster has no network settings.
var ErrNotInitialized = errors.New("the fleet has no network settings: run ovsmesh fleet init first")

// list reads every key of the cluster at one revision.
func (c *Client) list(ctx context.Context) (map[string]kv, int64, error) {
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.GetResponse, error) {
		return c.etcd.Get(ctx, c.Keys.Prefix(), clientv3.WithPrefix())
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read %s from etcd: %w", c.Keys.Prefix(), err)
	}
	out := make(map[string]kv, len(resp.Kvs))
	for _, e := range resp.Kvs {
		out[string(e.Key)] = kv{value: e.Value, createRev: e.CreateRevision}
	}
	return out, resp.Header.Revision, nil
}

// initChunk is how many hosts one seeding transaction writes: etcd refuses a
// transaction of more than 128 operations or compares by default
// (--max-txn-ops), and each host takes two of each.
const initChunk = 50

// Init seeds the cluster: the network settings and the given hosts with their
// indexes. It refuses a cluster that already has network settings. The hosts
// are written in transactions of initChunk, the network settings with the last
// one: until then the cluster has no settings and no host can join. A refused
// or failed transaction removes the hosts written before it.
func (c *Client) Init(ctx context.Context, network map[string]any, hosts []Record) error {
	netJSON, err := json.Marshal(network)
	if err != nil {
		return fmt.Errorf("encode network settings: %w", err)
	}
	for lo := 0; lo == 0 || lo < len(hosts); lo += initChunk {
		chunk := hosts[lo:min(lo+initChunk, len(hosts))]
		var last []clientv3.Op
		if lo+initChunk >= len(hosts) {
			last = []clientv3.Op{clientv3.OpPut(c.Keys.Network(), string(netJSON))}
		}
		ok, err := c.seedHosts(ctx, chunk, last)
		if err == nil && ok {
			continue
		}
		undo := c.unseed(ctx, hosts[:lo])
		if err != nil {
			return errors.Join(fmt.Errorf("seed cluster %s in etcd: %w", c.Keys.Cluster, err), undo)
		}
		return errors.Join(fmt.Errorf("seed cluster %s: it already exists (or one of the hosts or indexes is taken): nothing changed; use fleet set-network to change its settings", c.Keys.Cluster), undo)
	}
	return nil
}

// seedHosts writes hosts' records and indexes, and the ops of last, if the
// cluster has no network settings and none of the keys exists.
func (c *Client) seedHosts(ctx context.Context, hosts []Record, last []clientv3.Op) (bool, error) {
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(c.Keys.Network()), "=", 0)}
	var ops []clientv3.Op
	for _, h := range hosts {
		rec, err := json.Marshal(h)
		if err != nil {
			return false, fmt.Errorf("encode host %s: %w", h.Name, err)
		}
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(c.Keys.Host(h.Name)), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(c.Keys.Index(h.Index)), "=", 0))
		ops = append(ops, clientv3.OpPut(c.Keys.Host(h.Name), string(rec)), clientv3.OpPut(c.Keys.Index(h.Index), h.Name))
	}
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).If(cmps...).Then(append(ops, last...)...).Commit()
	})
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// unseed removes the records and indexes a failed Init wrote, while the cluster
// still has no network settings.
func (c *Client) unseed(ctx context.Context, hosts []Record) error {
	for lo := 0; lo < len(hosts); lo += initChunk {
		var ops []clientv3.Op
		for _, h := range hosts[lo:min(lo+initChunk, len(hosts))] {
			ops = append(ops, clientv3.OpDelete(c.Keys.Host(h.Name)), clientv3.OpDelete(c.Keys.Index(h.Index)))
		}
		if _, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
			return c.etcd.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(c.Keys.Network()), "=", 0)).Then(ops...).Commit()
		}); err != nil {
			return fmt.Errorf("the %d host records written so far are left without network settings (remove them with ovsmesh fleet remove NAME, or delete %s): %w",
				len(hosts), c.Keys.Prefix(), err)
		}
	}
	return nil
}

// Network returns the stored network settings and their revision.
func (c *Client) Network(ctx context.Context) (map[string]any, int64, error) {
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.GetResponse, error) {
		return c.etcd.Get(ctx, c.Keys.Network())
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read %s from etcd: %w", c.Keys.Network(), err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, ErrNotInitialized
	}
	m, err := parseNetwork(resp.Kvs[0].Value)
	if err != nil {
		return nil, resp.Kvs[0].ModRevision, fmt.Errorf("%s: %w", c.Keys.Network(), err)
	}
	return m, resp.Kvs[0].ModRevision, nil
}

// SetNetwork replaces the network settings if they are still those of revision
// modRev (compare-and-swap).
func (c *Client) SetNetwork(ctx context.Context, network map[string]any, modRev int64) error {
	netJSON, err := json.Marshal(network)
	if err != nil {
		return fmt.Errorf("encode network settings: %w", err)
	}
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(c.Keys.Network()), "=", modRev)).
			Then(clientv3.OpPut(c.Keys.Network(), string(netJSON))).Commit()
	})
	if err != nil {
		return fmt.Errorf("write %s to etcd: %w", c.Keys.Network(), err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("write %s: changed by someone else since it was read: nothing changed, try again", c.Keys.Network())
	}
	return nil
}

// Remove deletes a host's record, index and liveness: the only way an index is
// freed. It fails if the host has no record.
func (c *Client) Remove(ctx context.Context, name string) (Record, error) {
	get, err := call(ctx, func(ctx context.Context) (*clientv3.GetResponse, error) {
		return c.etcd.Get(ctx, c.Keys.Host(name))
	})
	if err != nil {
		return Record{}, fmt.Errorf("read %s from etcd: %w", c.Keys.Host(name), err)
	}
	if len(get.Kvs) == 0 {
		return Record{}, fmt.Errorf("remove %s: no such host in cluster %s", name, c.Keys.Cluster)
	}
	e := get.Kvs[0]
	ops := []clientv3.Op{clientv3.OpDelete(c.Keys.Host(name)), clientv3.OpDelete(c.Keys.Alive(name))}
	r, perr := parseRecord(name, e.Value)
	if perr == nil {
		// Free the index only if it is this host's: a stale index key naming
		// another host is left alone.
		idx := c.Keys.Index(r.Index)
		ops = append(ops, clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.Value(idx), "=", name)},
			[]clientv3.Op{clientv3.OpDelete(idx)}, nil))
	}
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(c.Keys.Host(name)), "=", e.ModRevision)).Then(ops...).Commit()
	})
	if err != nil {
		return r, fmt.Errorf("remove %s from etcd: %w", name, err)
	}
	if !resp.Succeeded {
		return r, fmt.Errorf("remove %s: its record changed meanwhile: nothing changed, try again", name)
	}
	return r, nil
}

// JoinRace bounds how long Join keeps trying when other hosts keep claiming the
// index it wanted (many hosts joining at once).
const JoinRace = 60 * time.Second

// Join registers a host, or finds its record: a registered host keeps its index
// (its address is updated if it changed); a new one claims the smallest free
// index, atomically with its record. A record of the same name from another
// machine is refused. A claim lost to a concurrent join is tried again after a
// jittered backoff, with the indexes read again, for up to JoinRace.
func (c *Client) Join(ctx context.Context, name string, addr netip.Addr, machineID string) (Record, error) {
	if machineID == "" {
		return Record{}, errors.New("join: empty machine-id")
	}
	start := time.Now()
	for try := 1; ; try++ {
		r, done, err := c.joinOnce(ctx, name, addr, machineID)
		if err != nil || done {
			return r, err
		}
		if time.Since(start) > JoinRace {
			return Record{}, fmt.Errorf("join %s: lost the race for the smallest free index %d times in %v (many hosts joining at once): try again", name, try, JoinRace)
		}
		sleep(ctx, joinBackoff(try))
		if ctx.Err() != nil {
			return Record{}, fmt.Errorf("join %s: %w", name, ctx.Err())
		}
	}
}

// joinBackoff is the pause after the try-th lost claim: random ("full jitter")
// up to 10 ms doubled each try, at most 500 ms, so that the losers of a race do
// not all come back at once.
func joinBackoff(try int) time.Duration {
	ceiling := min(10*time.Millisecond<<min(try-1, 10), 500*time.Millisecond)
	return time.Duration(rand.Int64N(int64(ceiling)) + 1)
}

// joinRead reads, at one revision, what a join needs: the network settings,
// the host's record and the claimed indexes (keys only).
func (c *Client) joinRead(ctx context.Context, name string) (network, host *kv, taken map[string]bool, err error) {
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).Then(clientv3.OpGet(c.Keys.Network()), clientv3.OpGet(c.Keys.Host(name)),
			clientv3.OpGet(c.Keys.Prefix()+"index/", clientv3.WithPrefix(), clientv3.WithKeysOnly())).Commit()
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read %s from etcd: %w", c.Keys.Prefix(), err)
	}
	one := func(i int) *kv {
		if kvs := resp.Responses[i].GetResponseRange().Kvs; len(kvs) > 0 {
			return &kv{value: kvs[0].Value, createRev: kvs[0].CreateRevision}
		}
		return nil
	}
	taken = map[string]bool{}
	for _, e := range resp.Responses[2].GetResponseRange().Kvs {
		taken[string(e.Key)] = true
	}
	return one(0), one(1), taken, nil
}

// joinOnce makes one attempt; done is false when a concurrent change made it fail.
func (c *Client) joinOnce(ctx context.Context, name string, addr netip.Addr, machineID string) (Record, bool, error) {
	netKV, hostKV, taken, err := c.joinRead(ctx, name)
	if err != nil {
		return Record{}, false, err
	}
	if netKV == nil {
		return Record{}, false, ErrNotInitialized
	}
	network, err := parseNetwork(netKV.value)
	if err != nil {
		return Record{}, false, fmt.Errorf("join %s: %s: %w", name, c.Keys.Network(), err)
	}
	if hostKV != nil {
		return c.rejoin(ctx, name, *hostKV, addr, machineID)
	}
	slots, err := Slots(network)
	if err != nil {
		return Record{}, false, fmt.Errorf("join %s: %s: %w", name, c.Keys.Network(), err)
	}
	n := 1
	for n <= slots && taken[c.Keys.Index(n)] {
		n++
	}
	if n > slots {
		return Record{}, false, fmt.Errorf("join %s: the subnet has room for %d hosts and every index is taken: remove a host (ovsmesh fleet remove) or widen the subnet", name, slots)
	}
	r := Record{Name: name, Address: addr, Index: n, MachineID: machineID}
	rec, _ := json.Marshal(r)
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).If(
			clientv3.Compare(clientv3.CreateRevision(c.Keys.Host(name)), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(c.Keys.Index(n)), "=", 0),
		).Then(clientv3.OpPut(c.Keys.Host(name), string(rec)), clientv3.OpPut(c.Keys.Index(n), name)).Commit()
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("claim index %d for %s in etcd: %w", n, name, err)
	}
	return r, resp.Succeeded, nil
}

// rejoin checks an existing record and updates its address or machine-id
// (a host seeded by fleet init has none yet).
func (c *Client) rejoin(ctx context.Context, name string, e kv, addr netip.Addr, machineID string) (Record, bool, error) {
	r, err := parseRecord(name, e.value)
	if err != nil {
		return Record{}, false, fmt.Errorf("join %s: %s is not a usable record (%v): fix or remove it (ovsmesh fleet remove %s)", name, c.Keys.Host(name), err, name)
	}
	if r.MachineID != "" && r.MachineID != machineID {
		return Record{}, false, fmt.Errorf("join %s: %s belongs to another machine (machine-id %s, this one is %s): two machines share the name %s; rename one, or free the record with ovsmesh fleet remove %s if the old machine is gone",
			name, c.Keys.Host(name), shortID(r.MachineID), shortID(machineID), name, name)
	}
	if r.MachineID == machineID && r.Address == addr {
		return r, true, nil
	}
	r.MachineID, r.Address = machineID, addr
	rec, _ := json.Marshal(r)
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(c.Keys.Host(name)), "=", e.createRev),
			clientv3.Compare(clientv3.Value(c.Keys.Host(name)), "=", string(e.value))).
			Then(clientv3.OpPut(c.Keys.Host(name), string(rec))).Commit()
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("update %s in etcd: %w", c.Keys.Host(name), err)
	}
	return r, resp.Succeeded, nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12] + "…"
	}
	return id
}

// ReadMachineID reads a machine-id file (/etc/machine-id).
func ReadMachineID(path string) (string, error) {
	data, err := readFile(path)
	if err != nil {
		return "", fmt.Errorf("read machine-id: %w", err)
	}
	id := strings.TrimSpace(string(data))
	if id == "" {
		return "", fmt.Errorf("machine-id file %s is empty", path)
	}
	return id, nil
}
