package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// JoinRace bounds how long Join keeps trying when other hosts keep claiming the
// index it wanted (many hosts joining at once).
const JoinRace = 60 * time.Second

// ErrRefused is wrapped by Join's error when the host cannot join as it is
// (another machine's record, an address registered first by another host, a
// record that cannot be part of a valid view): trying again does not help.
var ErrRefused = errors.New("join refused")

// ErrAddressTaken is wrapped by Join's error when another host registered the
// address first: it says what to do.
var ErrAddressTaken = errors.New("give this host its own address")

// Join registers a host, or finds its record: a registered host keeps its index
// (its address is updated if it changed); a new one claims the smallest index
// nobody claimed, then its address, then writes its record. All of it is under
// the host's own prefix: a claim lost to a host that claimed first (etcd's
// create revision) is withdrawn and, for an index, tried again after a jittered
// backoff, for up to JoinRace. A record that could not be part of a valid view
// (see admit) is refused before anything is written.
func (c *Client) Join(ctx context.Context, name string, addr netip.Addr, machineID string) (Record, error) {
	if machineID == "" {
		return Record{}, errors.New("join: empty machine-id")
	}
	start := time.Now()
	var st *joinState // what the last lost claim read: the next try starts from it
	for try := 1; ; try++ {
		r, done, next, err := c.joinOnce(ctx, st, name, addr, machineID)
		switch {
		case err != nil && Unreachable(err) && ctx.Err() == nil && time.Since(start) < JoinRace:
			// A read that timed out while many hosts join at once: the
			// next try reads again.
			next = nil
		case err != nil || done:
			return r, err
		}
		st = next
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

// joinState is what a join reads at one revision: the network settings, the
// host's record (value), a record of the old layout, and every claim.
type joinState struct {
	network    map[string]any
	record     *kv
	old        bool
	claims     claims
	registered map[string]bool // hosts with a record
	claimants  map[string]bool // hosts with a claim
	keys       map[string]kv   // every key under hosts/, without values
	rev        int64           // the revision they were read at
}

// derive computes claims, registered and claimants from keys.
func (c *Client) derive(st *joinState) {
	st.registered, st.claimants = map[string]bool{}, map[string]bool{}
	for key := range st.keys {
		switch p := c.Keys.parse(key); p.kind {
		case kindRecord:
			st.registered[p.host] = true
		case kindIndex:
			st.claimants[p.host] = true
		}
	}
	st.claims = c.Keys.claimsOf(st.keys)
}

func (c *Client) joinRead(ctx context.Context, name string) (joinState, error) {
	var st joinState
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).Then(clientv3.OpGet(c.Keys.Network()), clientv3.OpGet(c.Keys.Host(name)),
			clientv3.OpGet(c.Keys.oldHost(name), clientv3.WithCountOnly()),
			clientv3.OpGet(c.Keys.Hosts(), clientv3.WithPrefix(), clientv3.WithKeysOnly())).Commit()
	})
	if err != nil {
		return st, fmt.Errorf("read %s from etcd: %w", c.Keys.Prefix(), err)
	}
	net := resp.Responses[0].GetResponseRange().Kvs
	if len(net) == 0 {
		return st, ErrNotInitialized
	}
	if st.network, err = parseNetwork(net[0].Value); err != nil {
		return st, fmt.Errorf("join %s: %s: %w", name, c.Keys.Network(), err)
	}
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		st.record = &kv{value: kvs[0].Value, createRev: kvs[0].CreateRevision}
	}
	st.old = resp.Responses[2].GetResponseRange().Count > 0
	st.keys, st.rev = map[string]kv{}, resp.Header.Revision
	for _, e := range resp.Responses[3].GetResponseRange().Kvs {
		st.keys[string(e.Key)] = kv{createRev: e.CreateRevision}
	}
	c.derive(&st)
	return st, nil
}

// joinOnce makes one attempt from st (nil: read it); done is false when a
// concurrent claim made it fail, and then next is what the claim read.
func (c *Client) joinOnce(ctx context.Context, from *joinState, name string, addr netip.Addr, machineID string) (r Record, done bool, next *joinState, err error) {
	var st joinState
	if from != nil {
		st = *from
	} else if st, err = c.joinRead(ctx, name); err != nil {
		return Record{}, false, nil, err
	}
	r, done, next, err = c.joinWith(ctx, st, name, addr, machineID)
	return r, done, next, err
}

// joinWith makes one attempt from what was read.
func (c *Client) joinWith(ctx context.Context, st joinState, name string, addr netip.Addr, machineID string) (Record, bool, *joinState, error) {
	if st.old {
		return Record{}, false, nil, fmt.Errorf("join %s: %w: %s is a record of the layout before per-host keys: the operator converts the fleet with ovsmesh fleet migrate first", name, ErrRefused, c.Keys.oldHost(name))
	}
	if st.record != nil {
		r, done, err := c.rejoin(ctx, name, st, addr, machineID)
		return r, done, nil, err
	}
	slots, err := Slots(st.network)
	if err != nil {
		return Record{}, false, nil, fmt.Errorf("join %s: %s: %w", name, c.Keys.Network(), err)
	}
	n := st.pick(name, slots)
	if n == 0 {
		return Record{}, false, nil, fmt.Errorf("join %s: %w: the subnet has room for %d hosts and every index is taken: remove a host (ovsmesh fleet remove) or widen the subnet", name, ErrRefused, slots)
	}
	r := Record{Name: name, Address: addr, Index: n, MachineID: machineID}
	if err := c.admit(st, r); err != nil {
		return Record{}, false, nil, err
	}
	won, after, err := c.claim(ctx, st, r, true, true)
	if err != nil || !won {
		return Record{}, false, after, err
	}
	rec, _ := json.Marshal(r)
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(c.Keys.Host(name)), "=", 0)).
			Then(clientv3.OpPut(c.Keys.Host(name), string(rec))).Commit()
	})
	if err != nil {
		return Record{}, false, nil, fmt.Errorf("write %s to etcd: %w", c.Keys.Host(name), err)
	}
	return r, resp.Succeeded, nil, nil
}

// pick chooses the index to claim: the smallest that no registered host holds.
// Hosts joining at the same time (hosts with claims and no record yet) share
// the smallest free indexes: with k of them, each picks one of the k+1
// smallest, preferring one nobody claims, so that most of them win their first
// claim rather than all racing for the same index. A claim of ours that is
// first (left by an interrupted join) is kept. 0: no free index.
func (st joinState) pick(name string, slots int) int {
	pending := 0
	for h := range st.claimants {
		if h != name && !st.registered[h] {
			pending++
		}
	}
	var free, unclaimed []int
	for n := 1; n <= slots && len(free) <= pending; n++ {
		first, claimed := st.claims.index[n]
		switch {
		case claimed && first.host == name:
			return n
		case claimed && st.registered[first.host]:
			continue
		}
		free = append(free, n)
		if !claimed {
			unclaimed = append(unclaimed, n)
		}
	}
	switch {
	case len(free) == 0:
		return 0
	case len(unclaimed) > 0:
		return unclaimed[rand.IntN(len(unclaimed))]
	}
	return free[rand.IntN(len(free))]
}

// claim puts r's index and address claims and reads back whether they were
// first. A lost index claim gives won false (a new host withdraws it and tries
// another index); a lost address claim is refused. Only the claims this call
// made are withdrawn (fresh: a new host's index claim; newAddr: its address's).
//
// What was first is read cheaply: the keys of st (read before the claim) and
// the keys created since, which a range read filtered by create revision gives
// without sending the others. A claim withdrawn since still counts as there:
// at worst a host believes it lost and tries again.
func (c *Client) claim(ctx context.Context, st joinState, r Record, fresh, newAddr bool) (bool, *joinState, error) {
	ik, ak := c.Keys.IndexClaim(r.Name, r.Index), c.Keys.AddressClaim(r.Name, r.Address)
	if _, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).Then(clientv3.OpPut(ik, ""), clientv3.OpPut(ak, "")).Commit()
	}); err != nil {
		return false, nil, fmt.Errorf("claim index %d and address %s for %s in etcd: %w", r.Index, r.Address, r.Name, err)
	}
	since, err := call(ctx, func(ctx context.Context) (*clientv3.GetResponse, error) {
		return c.etcd.Get(ctx, c.Keys.Hosts(), clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithMinCreateRev(st.rev+1))
	})
	if err != nil {
		return false, nil, fmt.Errorf("read the claims of %s from etcd: %w", r.Name, err)
	}
	keys := make(map[string]kv, len(st.keys)+len(since.Kvs))
	for k, e := range st.keys {
		keys[k] = e
	}
	for _, e := range since.Kvs {
		keys[string(e.Key)] = kv{createRev: e.CreateRevision}
	}
	st.keys, st.rev = keys, since.Header.Revision
	c.derive(&st)
	indexErr, addrErr := st.claims.index[r.Index].host != r.Name, st.claims.addr[r.Address].host != r.Name
	if !indexErr && !addrErr {
		return true, &st, nil
	}
	var withdraw []clientv3.Op
	if fresh { // refused or retried: a new host keeps no claim
		withdraw = append(withdraw, clientv3.OpDelete(ik))
	}
	if newAddr && addrErr {
		withdraw = append(withdraw, clientv3.OpDelete(ak))
	}
	if _, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).Then(withdraw...).Commit()
	}); err != nil {
		return false, nil, fmt.Errorf("withdraw the lost claims of %s: %w", r.Name, err)
	}
	if addrErr {
		first := st.claims.addr[r.Address]
		return false, nil, fmt.Errorf("join %s: %w: address %s was registered first by %s (etcd revision %d): the first registration keeps it; %w",
			r.Name, ErrRefused, r.Address, first.host, first.rev, ErrAddressTaken)
	}
	// The next try starts from what was read, without the claims withdrawn.
	for _, op := range withdraw {
		delete(st.keys, string(op.KeyBytes()))
	}
	c.derive(&st)
	return false, &st, nil
}

// rejoin checks an existing record and updates its address or machine-id
// (a host seeded by fleet init or fleet migrate has none yet).
func (c *Client) rejoin(ctx context.Context, name string, st joinState, addr netip.Addr, machineID string) (Record, bool, error) {
	e := *st.record
	r, err := parseRecord(name, e.value)
	if err != nil {
		return Record{}, false, fmt.Errorf("join %s: %w: %s is not a usable record (%v): fix or remove it (ovsmesh fleet remove %s)", name, ErrRefused, c.Keys.Host(name), err, name)
	}
	if r.MachineID != "" && r.MachineID != machineID {
		return Record{}, false, fmt.Errorf("join %s: %w: %s belongs to another machine (machine-id %s, this one is %s): two machines share the name %s; rename one, or free the record with ovsmesh fleet remove %s if the old machine is gone",
			name, ErrRefused, c.Keys.Host(name), shortID(r.MachineID), shortID(machineID), name, name)
	}
	next := r
	next.MachineID, next.Address = machineID, addr
	if err := c.admit(st, next); err != nil {
		return Record{}, false, err
	}
	if won, _, err := c.claim(ctx, st, next, false, next.Address != r.Address); err != nil || !won {
		if err == nil {
			err = fmt.Errorf("join %s: %w: index %d of its record was claimed first by %s", name, ErrRefused, r.Index, st.claims.index[r.Index].host)
		}
		return Record{}, false, err
	}
	if next == r {
		return r, true, nil
	}
	rec, _ := json.Marshal(next)
	ops := []clientv3.Op{clientv3.OpPut(c.Keys.Host(name), string(rec))}
	if r.Address != addr {
		ops = append(ops, clientv3.OpDelete(c.Keys.AddressClaim(name, r.Address)))
	}
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(c.Keys.Host(name)), "=", e.createRev),
			clientv3.Compare(clientv3.Value(c.Keys.Host(name)), "=", string(e.value))).Then(ops...).Commit()
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("update %s in etcd: %w", c.Keys.Host(name), err)
	}
	return next, resp.Succeeded, nil
}

// admit says why r could not be part of a valid view, before anything is
// written: the record alone is checked as validate would (name, address
// outside the container subnet, index within the address plan), its address
// must not be registered by another host, and its underlay family must be that
// of most registered hosts.
func (c *Client) admit(st joinState, r Record) error {
	if _, _, err := Compile("host record", st.network, []Record{r}); err != nil {
		return fmt.Errorf("join %s: %w: its record would be skipped by every host: %v", r.Name, ErrRefused, err)
	}
	if first, ok := st.claims.addr[r.Address]; ok && first.host != r.Name {
		return fmt.Errorf("join %s: %w: address %s was registered first by %s (etcd revision %d): the first registration keeps it; %w",
			r.Name, ErrRefused, r.Address, first.host, first.rev, ErrAddressTaken)
	}
	// One vote per other host: the address of its first registration.
	type vote struct {
		claim
		addr netip.Addr
	}
	firsts := map[string]vote{}
	for a, cl := range st.claims.addr {
		if old, ok := firsts[cl.host]; cl.host != r.Name && (!ok || cl.before(old.claim)) {
			firsts[cl.host] = vote{cl, a}
		}
	}
	votes := map[string]int{}
	for _, v := range firsts {
		votes[family(v.addr)]++
	}
	if other := map[string]string{"IPv4": "IPv6", "IPv6": "IPv4"}[family(r.Address)]; votes[other] > votes[family(r.Address)] {
		return fmt.Errorf("join %s: %w: address %s is %s, and the fleet's underlay is %s (%d hosts): tunnels need one underlay family",
			r.Name, ErrRefused, r.Address, family(r.Address), other, votes[other])
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12] + "…"
	}
	return id
}
