package controller

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// countingOVS counts passes (OVS is the first step of each) and detects overlap.
type countingOVS struct {
	fakeOVS
	passes  atomic.Int32
	running atomic.Int32
	overlap atomic.Bool
	block   atomic.Pointer[chan struct{}] // if set, Apply waits on it or ctx
}

func (c *countingOVS) Apply(ctx context.Context, want topology.OVSState, dry bool) ([]string, error) {
	if c.running.Add(1) > 1 {
		c.overlap.Store(true)
	}
	defer c.running.Add(-1)
	c.passes.Add(1)
	if b := c.block.Load(); b != nil {
		select {
		case <-*b:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return c.fakeOVS.Apply(ctx, want, dry)
}

type recorder struct {
	mu         sync.Mutex
	passes     []Result
	loadErrors int
}

func (r *recorder) Pass(_ context.Context, res Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.passes = append(r.passes, res)
}

func (r *recorder) LoadError(error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loadErrors++
}

func (r *recorder) counts() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.passes), r.loadErrors
}

type loopFixture struct {
	loop   *Loop
	ovs    *countingOVS
	state  *fakeState
	rec    *recorder
	logs   *syncBuffer
	path   string
	cancel context.CancelFunc
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startLoop(t *testing.T, interval time.Duration, changes chan struct{}) *loopFixture {
	t.Helper()
	return startLoopWith(t, interval, changes, nil)
}

// startLoopWith is startLoop with the Loop changed by set (if not nil) before it
// runs.
func startLoopWith(t *testing.T, interval time.Duration, changes chan struct{}, set func(*Loop)) *loopFixture {
	t.Helper()
	data, err := os.ReadFile("../examples/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "topology.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// A file in place for a while, as at boot: the first pass applies it at once.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	s := &fakeState{}
	ovs := &countingOVS{fakeOVS: fakeOVS{s: s}}
	logs := &syncBuffer{}
	f := &loopFixture{ovs: ovs, state: s, rec: &recorder{}, logs: logs, path: path, done: make(chan error, 1)}
	f.loop = &Loop{
		R: &Reconciler{Path: path, Host: "docker1", OVS: ovs, Bridge: &fakeBridge{s: s}, Flows: &fakeFlows{s}, Files: &fakeFiles{s},
			Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))},
		Interval: interval, Changes: changes, Observer: f.rec,
		Debounce: 50 * time.Millisecond, FilePoll: 20 * time.Millisecond,
		Settle: 10 * time.Millisecond,
	}
	if set != nil {
		set(f.loop)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() { f.done <- f.loop.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-f.done })
	return f
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLoopPassesAtStartAndOnEvents(t *testing.T) {
	changes := make(chan struct{}, 1)
	f := startLoop(t, time.Hour, changes)
	waitFor(t, "the first pass", func() bool { n, _ := f.rec.counts(); return n == 1 })
	if f.state.String() == "flows 0\n" {
		t.Fatal("first pass applied nothing")
	}
	// A burst of events gives one pass (debounced), not one per event.
	for range 20 {
		select {
		case changes <- struct{}{}:
		default:
		}
		time.Sleep(time.Millisecond)
	}
	waitFor(t, "a pass after the events", func() bool { n, _ := f.rec.counts(); return n >= 2 })
	time.Sleep(200 * time.Millisecond)
	if n, _ := f.rec.counts(); n != 2 {
		t.Errorf("%d passes after a burst of 20 events, want 2 in all", n)
	}
	if f.ovs.overlap.Load() {
		t.Error("two passes ran at the same time")
	}
}

func TestLoopKeepsLastGoodTopology(t *testing.T) {
	f := startLoop(t, 100*time.Millisecond, nil)
	waitFor(t, "the first pass", func() bool { n, _ := f.rec.counts(); return n >= 1 })
	good := f.state.String()
	writes := f.state.writeCount()
	if err := os.WriteFile(f.path, []byte("network:\n  encap: geneve\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three load errors", func() bool { _, e := f.rec.counts(); return e >= 3 })
	if f.state.String() != good || f.state.writeCount() != writes {
		t.Errorf("an invalid file changed the host:\n%s", f.state)
	}
	if n := strings.Count(f.logs.String(), "keeping the last good topology"); n != 1 {
		t.Errorf("load error logged %d times for one change of the file, want once:\n%s", n, f.logs)
	}
	// Passes go on with the last good topology and succeed.
	f.rec.mu.Lock()
	last := f.rec.passes[len(f.rec.passes)-1]
	f.rec.mu.Unlock()
	if last.Err() != nil {
		t.Errorf("pass with the last good topology failed: %v", last.Err())
	}
	// A deleted file is the same.
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deletion logged", func() bool { return strings.Count(f.logs.String(), "keeping the last good topology") == 2 })
	// The fixed file is applied: docker1 moves to another index.
	fixed := "network: {encap: gre, datapath: netdev, subnet: 172.17.0.0/16, slice_prefix: 18}\nhosts:\n  - {name: docker1, address: 198.18.0.1, index: 3}\n  - {name: docker2, address: 198.18.0.2, index: 2}\n"
	if err := os.WriteFile(f.path, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fixed file applied", func() bool { return strings.Contains(f.state.String(), "172.17.192.0/18") })
}

func TestLoopStopsPromptly(t *testing.T) {
	f := startLoop(t, time.Hour, nil)
	waitFor(t, "the first pass", func() bool { n, _ := f.rec.counts(); return n == 1 })
	// Block the next pass inside OVSDB, then cancel: Run returns without waiting.
	block := make(chan struct{})
	f.ovs.block.Store(&block)
	if err := os.WriteFile(f.path, append(mustRead(t, f.path), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the blocked pass", func() bool { return f.ovs.running.Load() == 1 })
	start := time.Now()
	f.cancel()
	select {
	case err := <-f.done:
		f.done <- err // for the cleanup
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2 s of cancellation")
	}
	t.Logf("returned %v after cancel", time.Since(start))
}

func mustRead(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
