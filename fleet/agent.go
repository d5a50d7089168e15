package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Defaults of the liveness lease and of the grace after it is lost.
const (
	DefaultTTL   = 10 * time.Second
	DefaultGrace = 3 * time.Second
	maxRetry     = 2 * time.Second
)

// NoGrace, as ViewOptions.Grace, drops a host from the plan as soon as its lease
// expires.
const NoGrace time.Duration = -1

// KeepAlive keeps name's liveness key on a lease of ttl until ctx is done. A lost
// lease (etcd unreachable for a TTL, or restarted without its data) is granted
// again and the key put again; the host's record and index are not touched. A
// liveness key that someone else deleted or replaced (put on another lease) is
// noticed, logged, counted and put back on this host's lease, as long as the
// host still has a record. The lease is left to expire when ctx is done, so that
// a quick restart changes nothing for the other hosts.
func (c *Client) KeepAlive(ctx context.Context, name, machineID string, ttl time.Duration, log *slog.Logger, n *Counters) {
	if n == nil {
		n = &Counters{}
	}
	retry := 200 * time.Millisecond
	held := false // a lease was held before: the next grant is a re-grant
	for ctx.Err() == nil {
		l, err := c.holdLease(ctx, name, machineID, ttl)
		if err != nil {
			log.Warn("fleet liveness: lease not granted, retrying", "host", name, "err", err, "retry", retry)
			sleep(ctx, retry)
			retry = min(2*retry, maxRetry)
			continue
		}
		retry = 200 * time.Millisecond
		if held {
			n.add(&n.Regrants)
			log.Info("fleet liveness: lease granted again; the index is kept", "host", name)
		}
		held = true
		c.guard(ctx, name, l, ttl, log, n)
		if ctx.Err() == nil {
			log.Warn("fleet liveness: lease lost, granting a new one", "host", name)
		}
	}
}

// lease is a granted lease with the liveness key on it.
type lease struct {
	id  clientv3.LeaseID
	ch  <-chan *clientv3.LeaseKeepAliveResponse
	val string // the key's value
	rev int64  // the revision of its put
}

// holdLease grants a lease, puts the liveness key on it and starts its keepalive.
func (c *Client) holdLease(ctx context.Context, name, machineID string, ttl time.Duration) (*lease, error) {
	secs := max(int64(ttl/time.Second), 2)
	g, err := call(ctx, func(ctx context.Context) (*clientv3.LeaseGrantResponse, error) { return c.etcd.Grant(ctx, secs) })
	if err != nil {
		return nil, fmt.Errorf("grant a %ds lease: %w", secs, err)
	}
	val, _ := json.Marshal(Alive{MachineID: machineID, Since: time.Now().UTC().Format(time.RFC3339)})
	put, err := call(ctx, func(ctx context.Context) (*clientv3.PutResponse, error) {
		return c.etcd.Put(ctx, c.Keys.Alive(name), string(val), clientv3.WithLease(g.ID))
	})
	if err != nil {
		return nil, fmt.Errorf("put %s: %w", c.Keys.Alive(name), err)
	}
	ch, err := c.etcd.KeepAlive(ctx, g.ID)
	if err != nil {
		return nil, fmt.Errorf("keep lease %x alive: %w", g.ID, err)
	}
	return &lease{id: g.ID, ch: ch, val: string(val), rev: put.Header.Revision}, nil
}

// guard drains l's keepalive responses until the lease is lost (the channel
// closes) or ctx is done, and watches the liveness key meanwhile: a key deleted
// or put on another lease by someone else (another ovsmesh under this host's
// identity, an operator's etcdctl) is put back on l. Repeated replacements are
// put back after a pause that doubles up to ttl, so that two processes that
// both keep this host's key do not race each other at full speed.
func (c *Client) guard(ctx context.Context, name string, l *lease, ttl time.Duration, log *slog.Logger, n *Counters) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	key := c.Keys.Alive(name)
	wch := c.etcd.Watch(wctx, key, clientv3.WithRev(l.rev+1))
	pause := time.Duration(0)
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-l.ch:
			if !ok {
				return
			}
		case w, ok := <-wch:
			if !ok || w.Canceled {
				sleep(ctx, maxRetry) // watch ended (etcd unreachable): watch again
				wch = c.etcd.Watch(wctx, key, clientv3.WithRev(l.rev+1))
				continue
			}
			how := replaced(w.Events, l.id)
			if how == "" {
				continue
			}
			if how == "deleted" && !c.leaseLive(ctx, l.id) {
				return // the lease expired, which deleted the key: granted again by KeepAlive
			}
			if time.Since(last) < massWindow {
				pause = min(max(2*pause, time.Second), ttl)
			} else {
				pause = 0
			}
			last = time.Now()
			n.add(&n.LivenessRestored)
			log.Error("fleet liveness: this host's liveness key was "+how+" by someone else (another ovsmesh with this host's identity?): putting it back on this host's lease",
				"host", name, "key", key, "after", pause)
			sleep(ctx, pause)
			if rev, err := c.restore(ctx, name, l); err != nil {
				log.Error("fleet liveness: the liveness key was not put back", "host", name, "err", err)
			} else if rev > 0 {
				l.rev = rev
			}
		}
	}
}

// leaseLive says whether lease id is still granted (true when etcd does not say).
func (c *Client) leaseLive(ctx context.Context, id clientv3.LeaseID) bool {
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.LeaseTimeToLiveResponse, error) {
		return c.etcd.TimeToLive(ctx, id)
	})
	return err != nil || resp.TTL > 0
}

// replaced says how events changed the liveness key of lease id: "deleted",
// "replaced" (put on another lease), or "" (not at all).
func replaced(events []*clientv3.Event, id clientv3.LeaseID) string {
	how := ""
	for _, e := range events {
		switch {
		case e.Type == clientv3.EventTypeDelete:
			how = "deleted"
		case clientv3.LeaseID(e.Kv.Lease) != id:
			how = "replaced"
		default:
			how = "" // put back on our lease since
		}
	}
	return how
}

// restore puts the liveness key back on l if the host still has a record (a
// host removed with fleet remove is not brought back); rev is the put's
// revision, 0 when nothing was put.
func (c *Client) restore(ctx context.Context, name string, l *lease) (int64, error) {
	resp, err := call(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return c.etcd.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(c.Keys.Host(name)), ">", 0)).
			Then(clientv3.OpPut(c.Keys.Alive(name), l.val, clientv3.WithLease(l.id))).Commit()
	})
	if err != nil {
		return 0, err
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("%s has no record (removed with fleet remove?): not put back", name)
	}
	return resp.Header.Revision, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ViewOptions tune Watch.
type ViewOptions struct {
	Self     string        // this host: always in its own view ("" for none)
	Grace    time.Duration // 0: DefaultGrace; NoGrace: none
	Log      *slog.Logger
	Counters *Counters // nil: none
	// DataPathUp says whether this host's data path to a host is up (its
	// tunnel's BFD session): a host that lost its liveness and is past the
	// grace stays in the plan while it says true. nil: liveness alone decides.
	DataPathUp func(Record) bool
}

// Snapshot reads the cluster once and returns its view (hosts alive now, and this
// host).
func (c *Client) Snapshot(ctx context.Context, o ViewOptions) (Snapshot, error) {
	v := c.newViewer(o)
	kvs, rev, err := c.list(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	v.kvs, v.rev = kvs, rev
	return v.snapshot(time.Now()), nil
}

func (c *Client) newViewer(o ViewOptions) *viewer {
	switch {
	case o.Grace == 0:
		o.Grace = DefaultGrace
	case o.Grace < 0:
		o.Grace = 0
	}
	if o.Counters == nil {
		o.Counters = &Counters{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	v := newViewer(c.Keys, o.Self, o.Grace, o.Log, o.Counters)
	v.dataPathUp = o.DataPathUp
	return v
}

// Watch calls fn with the view at start and after every change (a new revision,
// or the end of a host's grace) until ctx is done. While etcd is unreachable fn
// is not called: the caller's last view stays in force. A watch that fails (a
// compacted revision included) re-reads the prefix and resumes from there.
func (c *Client) Watch(ctx context.Context, o ViewOptions, fn func(Snapshot)) {
	v := c.newViewer(o)
	retry := 200 * time.Millisecond
	for ctx.Err() == nil {
		kvs, rev, err := c.list(ctx)
		if err != nil {
			v.log.Warn("fleet view: etcd unreachable, the last view stays in force", "err", err, "retry", retry)
			sleep(ctx, retry)
			retry = min(2*retry, maxRetry)
			continue
		}
		retry = 200 * time.Millisecond
		v.counters.add(&v.counters.Relists)
		v.kvs, v.rev = kvs, rev
		c.follow(ctx, v, fn)
	}
}

// follow emits the view and follows the watch from the view's revision until the
// watch fails or ctx is done.
func (c *Client) follow(ctx context.Context, v *viewer, fn func(Snapshot)) {
	emit := func() {
		s := v.snapshot(time.Now())
		v.counters.Revision.Store(s.Revision)
		fn(s)
	}
	emit()
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	// Only the ranges a view reads are watched: the network settings and the
	// hosts/ prefix. Values a view does not need are dropped as they come.
	hosts := c.etcd.Watch(wctx, c.Keys.Hosts(), clientv3.WithPrefix(), clientv3.WithRev(v.rev+1))
	network := c.etcd.Watch(wctx, c.Keys.Network(), clientv3.WithRev(v.rev+1))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(time.Hour)
		if at := v.next(time.Now()); !at.IsZero() {
			timer.Reset(max(time.Until(at), 0) + 10*time.Millisecond)
		}
		var w clientv3.WatchResponse
		var ok bool
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			emit()
			continue
		case w, ok = <-hosts:
		case w, ok = <-network:
		}
		if !ok || w.Err() != nil || w.Canceled {
			if ok {
				v.log.Warn("fleet view: watch ended, reading the prefix again", "err", w.Err(), "compact_revision", w.CompactRevision)
			}
			return
		}
		if len(w.Events) == 0 {
			continue
		}
		for _, e := range w.Events {
			if e.Type == clientv3.EventTypeDelete {
				delete(v.kvs, string(e.Kv.Key))
			} else if kept, ok := c.Keys.keep(string(e.Kv.Key), e.Kv.Value, e.Kv.CreateRevision); ok {
				v.kvs[string(e.Kv.Key)] = kept
			}
		}
		// The two watches deliver their revisions independently: the view's
		// revision is the highest seen.
		v.rev = max(v.rev, w.Header.Revision)
		emit()
	}
}
