package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// predictingFlows is fakeFlows that hands out the table it last installed as a
// prediction, as openflow's Table does with a recent verification, and records
// the calls the pass makes.
type predictingFlows struct {
	fakeFlows
	mu    sync.Mutex
	calls []string
	stuck bool // a predicted bundle never comes back (ovs-vswitchd not answering)
}

var _ Predictor = (*predictingFlows)(nil)

func (p *predictingFlows) note(call string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, call)
}

func (p *predictingFlows) take() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := strings.Join(p.calls, " ")
	p.calls = nil
	return out
}

func (p *predictingFlows) Predicted(_ string, want []topology.Flow) FlowTable {
	p.s.mu.Lock()
	installed := p.s.flows
	p.s.mu.Unlock()
	if installed == nil || slices.EqualFunc(installed, want, topology.Flow.Equal) {
		p.note("no-prediction")
		return nil
	}
	p.note("predicted")
	return predictedTable{p}
}

func (p *predictingFlows) Read(ctx context.Context, bridge string) (FlowTable, error) {
	p.note("read")
	return readTable{p}, nil
}

// predictedTable and readTable record which reading an Apply came from.
type (
	predictedTable struct{ p *predictingFlows }
	readTable      struct{ p *predictingFlows }
)

func (t predictedTable) Apply(ctx context.Context, want []topology.Flow, dry bool) ([]string, error) {
	t.p.note("apply-predicted")
	if t.p.stuck {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return t.p.fakeFlows.Apply(ctx, want, dry)
}

func (t readTable) Apply(ctx context.Context, want []topology.Flow, dry bool) ([]string, error) {
	t.p.note("apply-read")
	return t.p.fakeFlows.Apply(ctx, want, dry)
}

// TestPredictedTableGoesInWithoutARead: a self-guarding table that differs from
// the one last installed (a peer removed) goes in from the Flows' prediction, with
// no read before it and still before OVSDB changes the bridge; the pass then reads
// the table once and applies that reading, which repairs drift in the same pass.
// A pass that changes nothing reads (counts) as before, and a dry run never
// uses a prediction.
func TestPredictedTableGoesInWithoutARead(t *testing.T) {
	r, s, _ := newFake(t, "lab.yaml")
	pf := &predictingFlows{fakeFlows: fakeFlows{s}}
	r.Flows = pf
	if res := r.Once(context.Background(), false); res.Err() != nil {
		t.Fatal(res.Err())
	}
	if got := pf.take(); got != "no-prediction read apply-read read read apply-read" {
		t.Errorf("first pass: %s; want no prediction (nothing installed), a read before OVSDB, one after the early install and one after OVSDB set the bridge up", got)
	}
	if res := r.Once(context.Background(), false); res.Err() != nil {
		t.Fatal(res.Err())
	}
	if got := pf.take(); got != "no-prediction read apply-read apply-read" {
		t.Errorf("steady pass: %s; want one read, applied early and in the flows step", got)
	}

	r.Path = withoutDocker3(t)
	s.mu.Lock()
	s.order = nil
	s.mu.Unlock()
	if res := r.Once(context.Background(), false); res.Err() != nil {
		t.Fatal(res.Err())
	}
	if got := pf.take(); got != "predicted apply-predicted read apply-read" {
		t.Errorf("pass that removes a peer: %s; want the predicted table applied, then one read (beside OVSDB, which only deletes a port) applied", got)
	}
	if got := fmt.Sprint(s.order); got != "[flows ovsdb]" {
		t.Errorf("pass that removes a peer wrote %s, want [flows ovsdb]: the table goes in first", got)
	}

	r.Path = filepath.Join("..", "examples", "lab.yaml")
	if res := r.Once(context.Background(), true); res.Err() != nil {
		t.Fatal(res.Err())
	}
	if got := pf.take(); strings.Contains(got, "predicted") {
		t.Errorf("dry run: %s; a dry run reads, never predicts", got)
	}
}

// withoutDocker3 writes examples/lab.yaml without docker3 and returns its path.
func withoutDocker3(t *testing.T) string {
	t.Helper()
	three, err := os.ReadFile(filepath.Join("..", "examples", "lab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	two := strings.Replace(string(three), "  - {name: docker3, address: 198.18.0.3, index: 3}\n", "", 1)
	if two == string(three) {
		t.Fatal("examples/lab.yaml changed: docker3 not found")
	}
	path := filepath.Join(t.TempDir(), "two.yaml")
	if err := os.WriteFile(path, []byte(two), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPredictedBundleWaitsAtMostEarlyReadWait: a predicted bundle that
// ovs-vswitchd does not answer holds OVSDB back for earlyReadWait at most, as a
// read that does not come back does; the pass then brings OVSDB to the plan and
// installs the table from a read.
func TestPredictedBundleWaitsAtMostEarlyReadWait(t *testing.T) {
	r, s, _ := newFake(t, "lab.yaml")
	pf := &predictingFlows{fakeFlows: fakeFlows{s}}
	r.Flows = pf
	if res := r.Once(context.Background(), false); res.Err() != nil {
		t.Fatal(res.Err())
	}
	r.Path, pf.stuck = withoutDocker3(t), true
	s.mu.Lock()
	s.order = nil
	s.mu.Unlock()
	pf.take()
	done := make(chan Result, 1)
	start := time.Now()
	go func() { done <- r.Once(context.Background(), false) }()
	select {
	case res := <-done:
		if res.Err() != nil {
			t.Fatal(res.Err())
		}
	case <-time.After(3 * earlyReadWait):
		t.Fatalf("the pass did not end %v after a predicted bundle that never comes back (earlyReadWait %v)", 3*earlyReadWait, earlyReadWait)
	}
	if took := time.Since(start); took < earlyReadWait {
		t.Errorf("the pass took %v, less than earlyReadWait %v: the predicted bundle was not waited for", took, earlyReadWait)
	}
	if got := pf.take(); got != "predicted apply-predicted read apply-read" {
		t.Errorf("calls: %s; want the predicted bundle, then one read applied", got)
	}
	if got := fmt.Sprint(s.order); got != "[ovsdb flows]" {
		t.Errorf("writes %s, want [ovsdb flows]: OVSDB after the wait, then the table from the read", got)
	}
}

// waitingOVS is fakeOVS whose write waits (at most a second) for a reading of
// the flow table, and says whether one came.
type waitingOVS struct {
	*fakeOVS
	read   chan struct{}
	waited bool
}

func (w *waitingOVS) Apply(ctx context.Context, want topology.OVSState, dry bool) ([]string, error) {
	select {
	case <-w.read:
		w.waited = true
	case <-time.After(time.Second):
	}
	return w.fakeOVS.Apply(ctx, want, dry)
}

// signallingFlows is predictingFlows whose Read closes read once.
type signallingFlows struct {
	*predictingFlows
	once sync.Once
	read chan struct{}
}

func (f *signallingFlows) Read(ctx context.Context, bridge string) (FlowTable, error) {
	f.once.Do(func() { close(f.read) })
	return f.predictingFlows.Read(ctx, bridge)
}

// TestTableReadBesideOVSDBAfterPredictedBundle: in a pass that removes a peer,
// the read after the predicted bundle runs while OVSDB deletes the port, not
// after it, and it is the reading the flows step applies.
func TestTableReadBesideOVSDBAfterPredictedBundle(t *testing.T) {
	r, s, ovs := newFake(t, "lab.yaml")
	pf := &predictingFlows{fakeFlows: fakeFlows{s}}
	r.Flows = pf
	if res := r.Once(context.Background(), false); res.Err() != nil {
		t.Fatal(res.Err())
	}
	pf.take()
	read := make(chan struct{})
	wo := &waitingOVS{fakeOVS: ovs, read: read}
	r.Path, r.Flows, r.OVS = withoutDocker3(t), &signallingFlows{predictingFlows: pf, read: read}, wo
	res := r.Once(context.Background(), false)
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	if !wo.waited {
		t.Error("OVSDB's write was not under way when the table was read after the predicted bundle")
	}
	if got := pf.take(); got != "predicted apply-predicted read apply-read" {
		t.Errorf("calls: %s; want the predicted table applied, then the read beside OVSDB applied", got)
	}
}
