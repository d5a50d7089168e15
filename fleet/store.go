package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNotInitialized is returned when the cluster has no network settings.
var ErrNotInitialized = errors.New("the fleet has no network settings: run ovsmesh fleet init first")

// initChunk is how many hosts one seeding transaction writes: etcd refuses a
// transaction of more than 128 operations or compares by default
// (--max-txn-ops), and each host takes three operations (record, index and
// address claims) and one compare.
const initChunk = 40

// seedOps are the operations that write r as fleet init or fleet migrate
// seeds it: its record without a machine-id (it has not joined yet) and its
// claims of its index and address.
func (c *Client) seedOps(r Record) ([]clientv3.Op, error) {
	r.MachineID = ""
	rec, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode host %s: %w", r.Name, err)
	}
	return []clientv3.Op{clientv3.OpPut(c.Keys.Host(r.Name), string(rec)),
		clientv3.OpPut(c.Keys.IndexClaim(r.Name, r.Index), ""), clientv3.OpPut(c.Keys.AddressClaim(r.Name, r.Address), "")}, nil
}

// Init seeds the cluster: the network settings and the given hosts with their
// indexes. It refuses a cluster that already has network settings. The hosts
// are written in transactions of initChunk, the network settings with the last
// one: until then the cluster has no settings and no host can join. A refused
// or failed transaction removes the hosts written before it. It needs the
// operator's identity (see Grant).
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
		return errors.Join(fmt.Errorf("seed cluster %s: it already exists (or one of the hosts is registered): nothing changed; use fleet set-network to change its settings", c.Keys.Cluster), undo)
	}
	return nil
}

// seedHosts writes hosts' records and claims, and the ops of last, if the
// cluster has no network settings and none of the hosts has a record.
func (c *Client) seedHosts(ctx context.Context, hosts []Record, last []clientv3.Op) (bool, error) {
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(c.Keys.Network()), "=", 0)}
	var ops []clientv3.Op
	for _, h := range hosts {
		seed, err := c.seedOps(h)
		if err != nil {
			return false, err
		}
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(c.Keys.Host(h.Name)), "=", 0))
		ops = append(ops, seed...)
	}
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).If(cmps...).Then(append(ops, last...)...).Commit()
	})
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// unseed removes the hosts a failed Init wrote, while the cluster still has no
// network settings.
func (c *Client) unseed(ctx context.Context, hosts []Record) error {
	for lo := 0; lo < len(hosts); lo += initChunk {
		var ops []clientv3.Op
		for _, h := range hosts[lo:min(lo+initChunk, len(hosts))] {
			ops = append(ops, clientv3.OpDelete(c.Keys.HostPrefix(h.Name), clientv3.WithPrefix()))
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
// modRev (compare-and-swap). It needs the operator's identity.
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

// Remove deletes every key of a host (record, claims, liveness): the only way
// an index is freed. It fails if the host has no key. It needs the operator's
// identity.
func (c *Client) Remove(ctx context.Context, name string) (Record, error) {
	get, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).Then(clientv3.OpGet(c.Keys.Host(name)),
			clientv3.OpGet(c.Keys.HostPrefix(name), clientv3.WithPrefix(), clientv3.WithCountOnly())).Commit()
	})
	if err != nil {
		return Record{}, fmt.Errorf("read %s from etcd: %w", c.Keys.HostPrefix(name), err)
	}
	if get.Responses[1].GetResponseRange().Count == 0 {
		return Record{}, fmt.Errorf("remove %s: no such host in cluster %s", name, c.Keys.Cluster)
	}
	var r Record
	cmp := clientv3.Compare(clientv3.CreateRevision(c.Keys.Host(name)), "=", 0)
	if kvs := get.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		r, _ = parseRecord(name, kvs[0].Value)
		cmp = clientv3.Compare(clientv3.ModRevision(c.Keys.Host(name)), "=", kvs[0].ModRevision)
	}
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).If(cmp).Then(clientv3.OpDelete(c.Keys.HostPrefix(name), clientv3.WithPrefix())).Commit()
	})
	if err != nil {
		return r, fmt.Errorf("remove %s from etcd: %w", name, err)
	}
	if !resp.Succeeded {
		return r, fmt.Errorf("remove %s: its record changed meanwhile: nothing changed, try again", name)
	}
	return r, nil
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
