package fleet

import (
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestALivenessKeyReplacedOrDeletedIsPutBack: someone else deletes this host's
// liveness key, then puts it on another lease (as a second ovsmesh under this
// host's identity would): each time the keeping host notices, counts it and
// puts the key back on its own lease, and the other hosts never lose it for
// longer than that.
func TestALivenessKeyReplacedOrDeletedIsPutBack(t *testing.T) {
	c := newTestClient(t)
	ctx := testCtx(t)
	if err := c.Init(ctx, labNetwork(), nil); err != nil {
		t.Fatal(err)
	}
	join(t, c, "a", 1)
	n := &Counters{}
	aliveCounted(t, c, "a", 10*time.Second, n)
	key := c.Keys.Alive("a")
	ours := func() clientv3.LeaseID {
		t.Helper()
		var id clientv3.LeaseID
		poll(10*time.Second, func() bool {
			g, err := c.etcd.Get(ctx, key)
			if err == nil && len(g.Kvs) == 1 {
				id = clientv3.LeaseID(g.Kvs[0].Lease)
			}
			return id != 0
		})
		if id == 0 {
			t.Fatal("no liveness key")
		}
		return id
	}
	first := ours()
	if _, err := c.etcd.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	took, ok := poll(10*time.Second, func() bool { return n.LivenessRestored.Load() == 1 })
	if !ok {
		t.Fatal("a deleted liveness key was not noticed within 10s")
	}
	if got := ours(); got != first {
		t.Errorf("put back on lease %x, want the keeper's %x", got, first)
	}
	t.Logf("deleted key put back %v after the delete", took.Round(time.Millisecond))
	// Replaced: put on another lease, which then expires.
	g, err := c.etcd.Grant(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.etcd.Put(ctx, key, `{"machine_id":"ma","since":"x"}`, clientv3.WithLease(g.ID)); err != nil {
		t.Fatal(err)
	}
	took, ok = poll(10*time.Second, func() bool { return n.LivenessRestored.Load() == 2 && ours() == first })
	if !ok {
		t.Fatalf("a replaced liveness key was not put back on the keeper's lease (restored %d)", n.LivenessRestored.Load())
	}
	// The second replacement within 30 s is put back after a pause of 1 s.
	if took < 900*time.Millisecond {
		t.Errorf("a second replacement put back %v after it, want a pause of about 1s", took)
	}
	t.Logf("replaced key put back %v after the replacement (the second within 30 s: after a pause)", took.Round(time.Millisecond))
	time.Sleep(3 * time.Second) // the other lease expires: it no longer holds the key
	if got := ours(); got != first || n.Regrants.Load() != 0 {
		t.Errorf("after the other lease expired: lease %x (want %x), re-grants %d", got, first, n.Regrants.Load())
	}
}
