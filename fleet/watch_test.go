package fleet

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// watcher runs Watch in the background and keeps its snapshots.
type watcher struct {
	ch chan Snapshot
	n  *Counters
}

func startWatch(t *testing.T, c *Client, self string) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{ch: make(chan Snapshot, 1000), n: &Counters{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Watch(ctx, ViewOptions{Self: self, Grace: time.Second, Counters: w.n,
			Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}, func(s Snapshot) { w.ch <- s })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// until waits for a snapshot that satisfies ok and returns it.
func (w *watcher) until(t *testing.T, what string, ok func(Snapshot) bool) Snapshot {
	t.Helper()
	deadline := time.After(20 * time.Second)
	var last Snapshot
	for {
		select {
		case s := <-w.ch:
			last = s
			if ok(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("no view with %s within 20s; last: rev %d members %+v stale %+v err %v", what, last.Revision, last.Members, last.Stale, last.Err)
		}
	}
}

func planned(s Snapshot) []string {
	if s.Topology == nil {
		return nil
	}
	var names []string
	for _, h := range s.Topology.Hosts {
		names = append(names, h.Name)
	}
	return names
}

func hasPlan(names ...string) func(Snapshot) bool {
	return func(s Snapshot) bool { return slices.Equal(planned(s), names) }
}

func join(t *testing.T, c *Client, name string, last byte) Record {
	t.Helper()
	r, err := c.Join(testCtx(t), name, netip.AddrFrom4([4]byte{198, 18, 0, last}), "m-"+name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// alive keeps name's liveness until the returned stop is called.
func alive(t *testing.T, c *Client, name string, ttl time.Duration) (stop func()) {
	return aliveCounted(t, c, name, ttl, nil)
}

func aliveCounted(t *testing.T, c *Client, name string, ttl time.Duration, n *Counters) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.KeepAlive(ctx, name, "m-"+name, ttl, slog.New(slog.DiscardHandler), n)
	}()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func TestViewFollowsJoinsAndLiveness(t *testing.T) {
	c := newTestClient(t)
	if err := c.Init(testCtx(t), labNetwork(), nil); err != nil {
		t.Fatal(err)
	}
	join(t, c, "a", 1)
	alive(t, c, "a", 2*time.Second)
	w := startWatch(t, c, "a")
	w.until(t, "a alone", hasPlan("a"))
	join(t, c, "b", 2)
	stopB := alive(t, c, "b", 2*time.Second)
	start := time.Now()
	s := w.until(t, "b joined", hasPlan("a", "b"))
	t.Logf("b in a's view %s after its liveness key, at revision %d", time.Since(start).Round(time.Millisecond), s.Revision)
	if s.Revision == 0 {
		t.Error("snapshot without a revision")
	}
	// b's process stops: its lease expires after the TTL, then the grace ends.
	stopB()
	start = time.Now()
	w.until(t, "b gone", hasPlan("a"))
	t.Logf("b left a's view %s after it stopped (TTL 2s + grace 1s)", time.Since(start).Round(time.Millisecond))
	// b comes back with the same index.
	if r := join(t, c, "b", 2); r.Index != 2 {
		t.Errorf("b came back with index %d, want 2", r.Index)
	}
	alive(t, c, "b", 2*time.Second)
	w.until(t, "b back", hasPlan("a", "b"))
}

func TestLostLeaseIsGrantedAgainKeepingTheIndex(t *testing.T) {
	c := newTestClient(t)
	if err := c.Init(testCtx(t), labNetwork(), nil); err != nil {
		t.Fatal(err)
	}
	join(t, c, "a", 1)
	join(t, c, "b", 2)
	bCounters := &Counters{}
	aliveCounted(t, c, "b", 2*time.Second, bCounters)
	w := startWatch(t, c, "a")
	w.until(t, "a and b", hasPlan("a", "b"))
	// Revoke b's lease behind its back, as an etcd that lost it would.
	ctx := testCtx(t)
	get, err := c.etcd.Get(ctx, c.Keys.Alive("b"))
	if err != nil || len(get.Kvs) != 1 {
		t.Fatalf("get b's liveness: %v", err)
	}
	if _, err := c.etcd.Revoke(ctx, clientv3.LeaseID(get.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		g, err := c.etcd.Get(ctx, c.Keys.Alive("b"))
		if err == nil && len(g.Kvs) == 1 && g.Kvs[0].Lease != get.Kvs[0].Lease {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b's liveness was not put again on a new lease within 15s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for end := time.Now().Add(5 * time.Second); bCounters.Regrants.Load() != 1 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond) // counted just after the key is put
	}
	if got := bCounters.Regrants.Load(); got != 1 {
		t.Errorf("re-grants counted %d, want 1", got)
	}
	s := w.until(t, "b again", hasPlan("a", "b"))
	for _, m := range s.Members {
		if m.Name == "b" && m.Index != 2 {
			t.Errorf("b renumbered to %d", m.Index)
		}
	}
}

func TestBadKeysAreSkippedAndCounted(t *testing.T) {
	c := newTestClient(t)
	ctx := testCtx(t)
	if err := c.Init(ctx, labNetwork(), nil); err != nil {
		t.Fatal(err)
	}
	join(t, c, "a", 1)
	w := startWatch(t, c, "a")
	w.until(t, "a", hasPlan("a"))
	if _, err := c.etcd.Put(ctx, c.Keys.Host("evil"), `{"name": "evil", "address": `); err != nil {
		t.Fatal(err)
	}
	s := w.until(t, "the bad record reported", func(s Snapshot) bool { return len(s.Stale) > 0 })
	if s.Stale[0].Key != c.Keys.Host("evil") || !slices.Equal(planned(s), []string{"a"}) {
		t.Errorf("stale %+v, plan %v", s.Stale, planned(s))
	}
	if w.n.BadRecords.Load() != 1 {
		t.Errorf("bad records counted %d, want 1", w.n.BadRecords.Load())
	}
	// Bad network settings: the last good ones stay in force.
	if _, err := c.etcd.Put(ctx, c.Keys.Network(), `{"encap": "geneve"}`); err != nil {
		t.Fatal(err)
	}
	s = w.until(t, "the bad network reported", func(s Snapshot) bool { return s.NetworkErr != "" })
	if s.Topology == nil || s.Topology.Network.Encap != "vxlan" || !strings.Contains(s.NetworkErr, "geneve") {
		t.Errorf("topology %v, network error %q: want the last good vxlan settings in force", s.Topology, s.NetworkErr)
	}
	if w.n.BadNetwork.Load() != 1 {
		t.Errorf("bad networks counted %d, want 1", w.n.BadNetwork.Load())
	}
}

func TestWatchOnACompactedRevisionReadsAgain(t *testing.T) {
	c := newTestClient(t)
	ctx := testCtx(t)
	if err := c.Init(ctx, labNetwork(), nil); err != nil {
		t.Fatal(err)
	}
	join(t, c, "a", 1)
	v := c.newViewer(ViewOptions{Self: "a"})
	kvs, rev, err := c.list(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v.kvs, v.rev = kvs, rev
	// Writes and a compaction after the view's revision: its watch cannot resume.
	join(t, c, "b", 2)
	alive(t, c, "b", 5*time.Second)
	put, err := c.etcd.Put(ctx, c.Keys.Prefix()+"filler", "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.etcd.Compact(ctx, put.Header.Revision); err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	var got []Snapshot
	go func() {
		defer close(ended)
		c.follow(ctx, v, func(s Snapshot) { got = append(got, s) })
	}()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end on a compacted revision")
	}
	if len(got) != 1 || got[0].Revision != rev {
		t.Errorf("snapshots before the compaction error: %d", len(got))
	}
	// Watch re-lists and sees b.
	w := startWatch(t, c, "a")
	w.until(t, "a and b after the compaction", hasPlan("a", "b"))
}
