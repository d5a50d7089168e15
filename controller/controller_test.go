package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// fakeState is a host's state held by the fakes, rendered as text by String.
type fakeState struct {
	mu     sync.Mutex // the loop tests read the state while passes run
	ovs    *topology.OVSState
	bridge *topology.DockerBridge
	flows  []topology.Flow
	files  *topology.DaemonConfig
	ifaces bool // the interfaces file was written
	writes int
	order  []string // the subsystems written, in order
}

func (s *fakeState) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	if s.ovs != nil {
		for _, t := range s.ovs.Tunnels {
			fmt.Fprintf(&b, "port %s type=%s remote_ip=%s\n", t.Name, t.Type, t.RemoteIP)
		}
	}
	if s.bridge != nil {
		fmt.Fprintf(&b, "bridge %s %s mtu=%d\n", s.bridge.Name, s.bridge.Address, s.bridge.MTU)
	}
	fmt.Fprintf(&b, "flows %d\n", len(s.flows))
	if s.files != nil {
		fmt.Fprintf(&b, "daemon.json fixed-cidr=%s\n", s.files.FixedCIDR)
	}
	return b.String()
}

type fakeOVS struct {
	s   *fakeState
	err error
}
type fakeBridge struct {
	s   *fakeState
	err error
}
type fakeFlows struct{ s *fakeState }
type fakeFiles struct{ s *fakeState }

var (
	_ OVS    = (*fakeOVS)(nil)
	_ Bridge = (*fakeBridge)(nil)
	_ Flows  = (*fakeFlows)(nil)
	_ Files  = (*fakeFiles)(nil)
)

func (f *fakeOVS) Apply(_ context.Context, want topology.OVSState, dry bool) ([]string, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if f.s.ovs != nil && f.s.ovs.Equal(want) {
		return nil, nil
	}
	lines := ovsLines(f.s.ovs, want)
	if !dry {
		f.s.ovs = &want
		f.s.writes++
		f.s.order = append(f.s.order, "ovsdb")
	}
	return lines, nil
}

// ovsLines are the fake's changes, begun as the OVS adapter's are for ports (a
// line per tunnel changed) and for the bridge's other columns; its first write
// sets the bridge up without saying it created it (see bridgeOVS).
func ovsLines(have *topology.OVSState, want topology.OVSState) []string {
	if have == nil {
		return []string{"set up bridge " + want.Bridge}
	}
	var lines []string
	for _, w := range want.Tunnels {
		if i := slices.IndexFunc(have.Tunnels, func(h topology.Tunnel) bool { return h.Name == w.Name }); i < 0 {
			lines = append(lines, "create port "+w.Name)
		} else if have.Tunnels[i] != w {
			lines = append(lines, "update interface "+w.Name)
		}
	}
	for _, h := range have.Tunnels {
		if !slices.ContainsFunc(want.Tunnels, func(w topology.Tunnel) bool { return w.Name == h.Name }) {
			lines = append(lines, "delete port "+h.Name)
		}
	}
	rest, was := want, *have
	rest.Tunnels, was.Tunnels = nil, nil
	if !rest.Equal(was) {
		lines = append(lines, "update bridge "+want.Bridge)
	}
	return lines
}

func (f *fakeBridge) Apply(_ context.Context, want topology.DockerBridge, dry bool) ([]string, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if f.s.bridge != nil && *f.s.bridge == want {
		return nil, nil
	}
	if !dry {
		f.s.bridge = &want
		f.s.writes++
	}
	return []string{"set docker0"}, nil
}

// Read returns the fake itself: it reads the state when applying.
func (f *fakeFlows) Read(context.Context, string) (FlowTable, error) { return f, nil }

func (f *fakeFlows) Apply(_ context.Context, want []topology.Flow, dry bool) ([]string, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	if slices.EqualFunc(f.s.flows, want, topology.Flow.Equal) {
		return nil, nil
	}
	if !dry {
		f.s.flows = want
		f.s.writes++
		f.s.order = append(f.s.order, "flows")
	}
	return []string{"set flows"}, nil
}

func (f *fakeFiles) Apply(_ context.Context, want topology.HostState, dry bool) ([]string, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	var changes []string
	if !f.s.ifaces {
		if !dry {
			f.s.ifaces = true
		}
		changes = append(changes, "write interfaces")
	}
	if (f.s.files != nil && *f.s.files == want.Daemon) || want.Daemon == (topology.DaemonConfig{}) {
		return changes, nil // up to date, or held back (Files leaves daemon.json alone)
	}
	if !dry {
		f.s.files = &want.Daemon
		f.s.writes++
	}
	return append(changes, "write daemon.json"), nil
}

// onePass is a Reconciler with the topology file of its passes, as a one-shot
// apply has it.
type onePass struct {
	*Reconciler
	Path string
}

// Once loads the topology file and runs one pass with it; an invalid file is the
// pass's only error, as for a one-shot apply.
func (r *onePass) Once(ctx context.Context, dryRun bool) Result {
	t, err := topology.Load(r.Path)
	if err != nil {
		return Result{Host: r.Host, DryRun: dryRun, Steps: []Step{{Name: StepLoad, Err: err}}}
	}
	return r.ApplyTopology(ctx, t, dryRun)
}

func newFake(t *testing.T, example string) (*onePass, *fakeState, *fakeOVS) {
	s := &fakeState{}
	ovs := &fakeOVS{s: s}
	return &onePass{Path: filepath.Join("..", "examples", example), Reconciler: &Reconciler{
		Host: "docker1",
		OVS:  ovs, Bridge: &fakeBridge{s: s}, Flows: &fakeFlows{s}, Files: &fakeFiles{s},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}}, s, ovs
}

func (s *fakeState) writeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func TestOnceConvergesThenDoesNothing(t *testing.T) {
	r, s, _ := newFake(t, "lab.yaml")
	res := r.Once(context.Background(), false)
	if err := res.Err(); err != nil || !res.Changed() {
		t.Fatalf("first pass: changed=%v err=%v", res.Changed(), err)
	}
	want := "port gre-docker2 type=gre remote_ip=198.18.0.2\nport gre-docker3 type=gre remote_ip=198.18.0.3\n" +
		"bridge docker0 172.17.0.1/16 mtu=1462\nflows 56\ndaemon.json fixed-cidr=172.17.64.0/18\n"
	if s.String() != want {
		t.Errorf("state after the first pass:\n%s\nwant:\n%s", s, want)
	}
	writes := s.writes
	res = r.Once(context.Background(), false)
	if res.Changed() || res.Err() != nil || s.writes != writes {
		t.Errorf("second pass: changed=%v err=%v writes %d -> %d", res.Changed(), res.Err(), writes, s.writes)
	}
}

// TestFlowDriftRepaired: a flow changed behind ovsmesh's back (the table keeps
// its size) is put back by the next pass, which changes nothing else.
func TestFlowDriftRepaired(t *testing.T) {
	r, s, _ := newFake(t, "lab.yaml")
	if res := r.Once(context.Background(), false); res.Err() != nil {
		t.Fatal(res.Err())
	}
	s.mu.Lock()
	want := s.flows
	s.flows = slices.Clone(want)
	s.flows[0].Priority++
	s.mu.Unlock()
	res := r.Once(context.Background(), false)
	if got := res.changes(StepFlows); res.Err() != nil || fmt.Sprint(got) != "[set flows]" || res.changes(StepOVSDB) != nil {
		t.Fatalf("pass after a flow drifted: flows %q, ovsdb %q, err %v", got, res.changes(StepOVSDB), res.Err())
	}
	if !slices.EqualFunc(s.flows, want, topology.Flow.Equal) {
		t.Error("the drifted flow was not put back")
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	r, s, _ := newFake(t, "lab.yaml")
	res := r.Once(context.Background(), true)
	if !res.Changed() || s.writes != 0 || s.String() != "flows 0\n" {
		t.Errorf("dry run: changed=%v writes=%d state=%q", res.Changed(), s.writes, s)
	}
}

// TestFailingStepDoesNotStopOthers: OVSDB fails, the other steps still run and
// the error names the step.
func TestFailingStepDoesNotStopOthers(t *testing.T) {
	r, s, ovs := newFake(t, "lab.yaml")
	ovs.err = errors.New("connection refused")
	res := r.Once(context.Background(), false)
	if err := res.Err(); err == nil || err.Error() != "ovsdb: connection refused" {
		t.Errorf("err = %v", err)
	}
	if s.bridge == nil || s.files == nil || len(s.flows) == 0 {
		t.Errorf("other steps did not run: %s", s)
	}
}

func TestInvalidTopologyChangesNothing(t *testing.T) {
	r, s, _ := newFake(t, "lab.yaml")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("network:\n  encap: geneve\nhosts: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Path = bad
	res := r.Once(context.Background(), false)
	if res.Err() == nil || !strings.Contains(res.Err().Error(), `bad.yaml:2:10: network.encap: "geneve" is not one of gre, vxlan`) {
		t.Errorf("err = %v", res.Err())
	}
	if s.writes != 0 {
		t.Errorf("%d writes with an invalid topology", s.writes)
	}
	r.Path, r.Host = filepath.Join("..", "examples", "lab.yaml"), "nosuchhost"
	res = r.Once(context.Background(), false)
	if res.Err() == nil || !strings.Contains(res.Err().Error(), `host "nosuchhost" is not in`) || s.writes != 0 {
		t.Errorf("unknown host: err=%v writes=%d", res.Err(), s.writes)
	}
}

// readCounter counts the readings of the flow table and can fail the first one.
type readCounter struct {
	*fakeFlows
	reads   int
	failOne bool
}

func (c *readCounter) Read(ctx context.Context, bridge string) (FlowTable, error) {
	c.s.mu.Lock()
	c.reads++
	fail := c.failOne && c.reads == 1
	c.s.mu.Unlock()
	if fail {
		return nil, errors.New("bridge not ready")
	}
	return c.fakeFlows.Read(ctx, bridge)
}

// TestFlowsReadAgainAfterOVSDBChanged: the flow table read while OVSDB is brought
// to the plan is used only when OVSDB changed nothing or only ports; otherwise the
// pass reads the table again before installing. A failed early reading with OVSDB unchanged is the
// step's error (the next pass reads again), not a second reading in the same pass.
func TestFlowsReadAgainAfterOVSDBChanged(t *testing.T) {
	r, s, ovs := newFake(t, "lab.yaml")
	rc := &readCounter{fakeFlows: &fakeFlows{s}}
	r.Flows = rc
	if res := r.Once(context.Background(), false); res.Err() != nil || !res.Changed() {
		t.Fatalf("first pass: changed=%v err=%v", res.Changed(), res.Err())
	}
	if rc.reads != 3 {
		t.Errorf("first pass (OVSDB changed the bridge): %d readings of the flow table, want 3 (beside OVSDB, after the early install, after OVSDB)", rc.reads)
	}
	rc.reads = 0
	if res := r.Once(context.Background(), false); res.Err() != nil || res.Changed() {
		t.Fatalf("second pass: changed=%v err=%v", res.Changed(), res.Err())
	}
	if rc.reads != 1 {
		t.Errorf("converged pass: %d readings of the flow table, want 1", rc.reads)
	}
	rc.reads, ovs.err = 0, errors.New("not connected")
	if res := r.Once(context.Background(), false); res.Err() == nil || res.Err().Error() != "ovsdb: not connected" {
		t.Errorf("pass with OVSDB down: err %v, want only the OVSDB step's", res.Err())
	}
	if rc.reads != 1 {
		t.Errorf("pass with OVSDB down: %d readings, want 1", rc.reads)
	}
	rc.reads, rc.failOne, ovs.err = 0, true, nil
	res := r.Once(context.Background(), false)
	if err := res.Err(); err == nil || err.Error() != "openflow: bridge not ready" {
		t.Errorf("pass whose early reading failed: err %v, want the reading's", err)
	}
	if rc.reads != 1 {
		t.Errorf("pass whose early reading failed: %d readings, want 1", rc.reads)
	}
	// A port deleted by hand: OVSDB creates it again, which leaves the flows
	// alone, so the reading beside OVSDB stands; a failed one is read again.
	for _, tc := range []struct {
		name        string
		failEarly   bool
		wantReading int
	}{
		{"pass that recreates a port", false, 1},
		{"pass that recreates a port after a failed reading", true, 2},
	} {
		rc.reads, rc.failOne = 0, tc.failEarly
		s.mu.Lock()
		o := *s.ovs
		o.Tunnels = slices.Clone(o.Tunnels[1:])
		s.ovs = &o
		s.mu.Unlock()
		if res := r.Once(context.Background(), false); res.Err() != nil || !res.Changed() {
			t.Fatalf("%s: changed=%v err=%v", tc.name, res.Changed(), res.Err())
		}
		if rc.reads != tc.wantReading {
			t.Errorf("%s: %d readings, want %d", tc.name, rc.reads, tc.wantReading)
		}
	}
}

// unreachable is the error of an adapter whose server is down.
type unreachable struct{}

func (unreachable) Error() string     { return "not connected" }
func (unreachable) Unavailable() bool { return true }

// blockingFlows is a flow table whose reading blocks until its context is done,
// as ovs-ofctl does while ovs-vswitchd does not answer.
type blockingFlows struct {
	*fakeFlows
	abandoned bool
}

func (b *blockingFlows) Read(ctx context.Context, _ string) (FlowTable, error) {
	select {
	case <-ctx.Done():
		b.abandoned = true
		return nil, ctx.Err()
	case <-time.After(time.Minute):
		return nil, errors.New("the reading was not abandoned")
	}
}

// TestOVSDBUnreachableAbandonsFlows: with ovsdb-server unreachable the pass stops
// reading the flow table (ovs-vswitchd may not answer) and still repairs docker0
// and the files.
func TestOVSDBUnreachableAbandonsFlows(t *testing.T) {
	r, s, ovs := newFake(t, "lab.yaml")
	ovs.err = fmt.Errorf("apply bridge %q: %w", "br0", unreachable{})
	bf := &blockingFlows{fakeFlows: &fakeFlows{s}}
	r.Flows = bf
	res := r.Once(context.Background(), false)
	if !bf.abandoned {
		t.Error("the reading of the flow table was not abandoned")
	}
	want := "ovsdb: apply bridge \"br0\": not connected\nopenflow: not checked while ovsdb-server is unreachable"
	if err := res.Err(); err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if s.bridge == nil || s.files == nil {
		t.Errorf("docker0 or the files not repaired while OVSDB is unreachable: %s", s)
	}
}
