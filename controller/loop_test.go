package controller

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
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

// fakeSource hands the loop whatever Reading a test sets.
type fakeSource struct {
	mu sync.Mutex
	rd Reading
	ch chan struct{}
}

var _ Source = (*fakeSource)(nil)

func (f *fakeSource) Current(time.Time) Reading {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rd
}

func (f *fakeSource) Watch(context.Context) <-chan struct{} { return f.ch }

// set changes the reading and tells the loop.
func (f *fakeSource) set(rd Reading) {
	f.mu.Lock()
	f.rd = rd
	f.mu.Unlock()
	select {
	case f.ch <- struct{}{}:
	default:
	}
}

type loopFixture struct {
	loop   *Loop
	ovs    *countingOVS
	state  *fakeState
	rec    *recorder
	logs   *testenv.Buffer
	src    *fakeSource
	cancel context.CancelFunc
	done   chan error
}

func startLoop(t *testing.T, interval time.Duration, changes chan struct{}) *loopFixture {
	t.Helper()
	return startLoopWith(t, interval, changes, nil)
}

// startLoopWith is startLoop with the Loop changed by set (if not nil) before it
// runs.
func startLoopWith(t *testing.T, interval time.Duration, changes chan struct{}, set func(*Loop)) *loopFixture {
	t.Helper()
	s := &fakeState{}
	ovs := &countingOVS{fakeOVS: fakeOVS{s: s}}
	logs := &testenv.Buffer{}
	src := &fakeSource{rd: Reading{Topology: mustLoad(t, "../examples/lab.yaml")}, ch: make(chan struct{}, 1)}
	f := &loopFixture{ovs: ovs, state: s, rec: &recorder{}, logs: logs, src: src, done: make(chan error, 1)}
	f.loop = &Loop{
		R: &Reconciler{Host: "docker1", OVS: ovs, Bridge: &fakeBridge{s: s}, Flows: &fakeFlows{s}, Files: &fakeFiles{s},
			Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))},
		Source: src, Interval: interval, Changes: changes, Observer: f.rec,
		Debounce: 50 * time.Millisecond,
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
	// A debounce far longer than the burst, however slow the machine: a burst
	// that outlasts the debounce rightly gives two passes.
	const debounce = 2 * time.Second
	f := startLoopWith(t, time.Hour, changes, func(l *Loop) { l.Debounce = debounce })
	waitFor(t, "the first pass", func() bool { n, _ := f.rec.counts(); return n == 1 })
	if f.state.String() == "flows 0\n" {
		t.Fatal("first pass applied nothing")
	}
	// A burst of events gives one pass (debounced), not one per event.
	start := time.Now()
	for range 20 {
		select {
		case changes <- struct{}{}:
		default:
		}
		time.Sleep(time.Millisecond)
	}
	if burst := time.Since(start); burst >= debounce {
		t.Fatalf("the burst took %v, longer than the debounce %v: the test proves nothing", burst, debounce)
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

// TestLoopAppliesWhatTheSourceHasInForce: while the source's newest content is
// bad, passes go on with the topology it keeps in force and the load error is
// counted on every pass; with none in force, a pass changes nothing and fails
// with the source's reason; a new topology is applied soon after the source
// reports it.
func TestLoopAppliesWhatTheSourceHasInForce(t *testing.T) {
	f := startLoop(t, 100*time.Millisecond, nil)
	waitFor(t, "the first pass", func() bool { n, _ := f.rec.counts(); return n >= 1 })
	good, writes := f.state.String(), f.state.writeCount()
	f.src.set(Reading{Topology: f.src.Current(time.Now()).Topology, Err: errors.New("topology.yaml:2:10: bad")})
	waitFor(t, "three load errors", func() bool { _, e := f.rec.counts(); return e >= 3 })
	if f.state.String() != good || f.state.writeCount() != writes {
		t.Errorf("a bad newest content changed the host:\n%s", f.state)
	}
	if last := f.rec.last(); last.Err() != nil || last.Topology == nil {
		t.Errorf("pass with the topology in force: %v, want it to succeed", last.Err())
	}

	f.src.set(Reading{Err: errors.New("read topology: no such file")})
	waitFor(t, "a pass with no topology", func() bool { return f.rec.last().Topology == nil })
	if err := f.rec.last().Err(); err == nil || err.Error() != "topology: read topology: no such file" || f.state.writeCount() != writes {
		t.Errorf("no topology in force: %v, %d writes; want the source's reason and none", err, f.state.writeCount()-writes)
	}

	fixed := "network: {encap: gre, datapath: netdev, subnet: 172.17.0.0/16, slice_prefix: 18}\nhosts:\n  - {name: docker1, address: 198.18.0.1, index: 3}\n  - {name: docker2, address: 198.18.0.2, index: 2}\n"
	topo, err := topology.Compile("fixed.yaml", []byte(fixed))
	if err != nil {
		t.Fatal(err)
	}
	f.src.set(Reading{Topology: topo})
	waitFor(t, "the new topology applied", func() bool { return strings.Contains(f.state.String(), "172.17.192.0/18") })
}

// TestLoopReadsAgainWhileTheSourceSettles: a source still being written is read
// again within its Wait (not at the interval), and the wait is no load error.
func TestLoopReadsAgainWhileTheSourceSettles(t *testing.T) {
	f := startLoopWith(t, time.Hour, nil, func(l *Loop) {
		l.Source.(*fakeSource).rd = Reading{Err: errors.New("being written"), Wait: 20 * time.Millisecond}
	})
	waitFor(t, "five passes", func() bool { n, _ := f.rec.counts(); return n >= 5 })
	if _, e := f.rec.counts(); e != 0 || f.state.writeCount() != 0 {
		t.Errorf("%d load errors, %d writes while the source settles; want none", e, f.state.writeCount())
	}
}

func TestLoopStopsPromptly(t *testing.T) {
	f := startLoop(t, time.Hour, nil)
	waitFor(t, "the first pass", func() bool { n, _ := f.rec.counts(); return n == 1 })
	// Block the next pass inside OVSDB, then cancel: Run returns without waiting.
	block := make(chan struct{})
	f.ovs.block.Store(&block)
	f.src.set(f.src.Current(time.Now()))
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

func mustLoad(t *testing.T, path string) *topology.Topology {
	t.Helper()
	topo, err := topology.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// last is the result of the last pass.
func (r *recorder) last() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.passes) == 0 {
		return Result{}
	}
	return r.passes[len(r.passes)-1]
}
