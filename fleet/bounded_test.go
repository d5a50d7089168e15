package fleet

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestJunkUnderAHostsPrefixIsNotKept: 64 values of 1 MiB under one host's own
// prefix (the only place its identity may write), and a record of 1 MiB: a
// view reads the junk keys without their values and keeps nothing of the large
// record but its size; the record is skipped with its reason, the junk listed
// once each, and the rest of the fleet keeps its view.
func TestJunkUnderAHostsPrefixIsNotKept(t *testing.T) {
	c := newTestClient(t)
	ctx := testCtx(t)
	if err := c.Init(ctx, labNetwork(), nil); err != nil {
		t.Fatal(err)
	}
	join(t, c, "a", 1)
	mib := strings.Repeat("x", 1<<20)
	for i := range 64 {
		if _, err := c.etcd.Put(ctx, c.Keys.HostPrefix("j")+"junk"+string(rune('A'+i%26))+string(rune('a'+i/26)), mib); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.etcd.Put(ctx, c.Keys.Host("j"), mib); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	kvs, _, err := c.list(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, e := range kvs {
		kept += len(e.value)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("%d keys read, %d bytes of values kept; heap in use %d KiB before the read, %d KiB after (the keys held)",
		len(kvs), kept, before.HeapInuse>>10, after.HeapInuse>>10)
	if kept > 4096 {
		t.Errorf("kept %d bytes of values, want only the network settings and a's record", kept)
	}
	v := c.newViewer(ViewOptions{Self: "a"})
	v.kvs = kvs
	s := v.snapshot(time.Now())
	if got := planned(s); len(got) != 1 || got[0] != "a" {
		t.Errorf("plan %v, want a", got)
	}
	if len(s.Stale) != 65 || !strings.Contains(s.Stale[64].Reason, "a value of 1048576 bytes: a record holds at most 4096") {
		t.Errorf("%d stale keys (last %+v), want 64 junk keys and the record", len(s.Stale), s.Stale[len(s.Stale)-1])
	}
}
