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
// again and the key put again; the host's record and index are not touched. The
// lease is left to expire when ctx is done, so that a quick restart changes
// nothing for the other hosts.
func (c *Client) KeepAlive(ctx context.Context, name, machineID string, ttl time.Duration, log *slog.Logger, n *Counters) {
	if n == nil {
		n = &Counters{}
	}
	retry := 200 * time.Millisecond
	held := false // a lease was held before: the next grant is a re-grant
	for ctx.Err() == nil {
		ch, err := c.holdLease(ctx, name, machineID, ttl)
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
		for range ch { // drain the keepalive responses; the channel closes when the lease is lost
		}
		if ctx.Err() == nil {
			log.Warn("fleet liveness: lease lost, granting a new one", "host", name)
		}
	}
}

// holdLease grants a lease, puts the liveness key on it and starts its keepalive.
func (c *Client) holdLease(ctx context.Context, name, machineID string, ttl time.Duration) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	secs := max(int64(ttl/time.Second), 2)
	g, err := call(ctx, func(ctx context.Context) (*clientv3.LeaseGrantResponse, error) { return c.etcd.Grant(ctx, secs) })
	if err != nil {
		return nil, fmt.Errorf("grant a %ds lease: %w", secs, err)
	}
	val, _ := json.Marshal(Alive{MachineID: machineID, Since: time.Now().UTC().Format(time.RFC3339)})
	if _, err := call(ctx, func(ctx context.Context) (*clientv3.PutResponse, error) {
		return c.etcd.Put(ctx, c.Keys.Alive(name), string(val), clientv3.WithLease(g.ID))
	}); err != nil {
		return nil, fmt.Errorf("put %s: %w", c.Keys.Alive(name), err)
	}
	ch, err := c.etcd.KeepAlive(ctx, g.ID)
	if err != nil {
		return nil, fmt.Errorf("keep lease %x alive: %w", g.ID, err)
	}
	return ch, nil
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
	return newViewer(c.Keys, o.Self, o.Grace, o.Log, o.Counters)
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
