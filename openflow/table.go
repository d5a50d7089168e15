package openflow

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/go-openvswitch/ovs"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Runner runs one command (ovs-ofctl) to completion and returns its output:
// standard output when it succeeds, standard output and error when it fails (the
// error's text is on stderr). stdin is nil for a command that reads nothing. The
// command must stop when ctx is done.
type Runner interface {
	Run(ctx context.Context, stdin io.Reader, name string, args ...string) ([]byte, error)
}

// ExecRunner runs commands as child processes that inherit the environment, so
// ovs-ofctl finds a bridge given by name in $OVS_RUNDIR (default
// /var/run/openvswitch), exactly as it does on the command line.
type ExecRunner struct{}

// Run implements Runner. Its error names the command line; go-openvswitch adds
// the output. A warning ovs-ofctl prints on stderr while succeeding is not part of
// the output: in a dump it would read as a flow nobody wrote.
func (ExecRunner) Run(ctx context.Context, stdin io.Reader, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	// Killed when ctx is done; WaitDelay then bounds the wait for its pipes too.
	cmd.WaitDelay = time.Second
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	if err := cmd.Run(); err != nil {
		out.Write(errOut.Bytes())
		return out.Bytes(), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out.Bytes(), nil
}

// DefaultTimeout bounds each ovs-ofctl run (its --timeout option).
const DefaultTimeout = 30 * time.Second

// Table installs ovsmesh's flows on one OVS bridge. It is safe for concurrent use:
// Apply calls are serialized, since a dump and the bundle built from it must not
// interleave with another Apply's. Two Tables on the same bridge must not be used
// at once.
type Table struct {
	mu      sync.Mutex
	bridge  string
	log     *slog.Logger
	runner  Runner
	timeout time.Duration
	// fullEvery, verified and verifiedAt: see WithFullCheckEvery and check.go.
	fullEvery  time.Duration
	mgmt       string // the management socket, with WithDirectCount
	verified   []topology.Flow
	verifiedE  []entry // verified's entries (see verify)
	verifiedAt time.Time
}

// Option configures a Table.
type Option func(*Table)

// WithRunner replaces the runner of ovs-ofctl (default ExecRunner).
func WithRunner(r Runner) Option { return func(t *Table) { t.runner = r } }

// WithTimeout sets ovs-ofctl's --timeout, rounded up to whole seconds (default
// DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(t *Table) { t.timeout = d } }

// New returns a Table for the bridge, named the way ovs-ofctl takes it: a name
// ("br0", resolved to $OVS_RUNDIR/br0.mgmt) or a socket ("unix:/path/br0.mgmt").
// It connects to nothing until Apply.
func New(bridge string, log *slog.Logger, opts ...Option) *Table {
	t := &Table{bridge: bridge, log: log, runner: ExecRunner{}, timeout: DefaultTimeout}
	for _, o := range opts {
		o(t)
	}
	return t
}

// ourFlows matches every flow carrying ovsmesh's cookie, in every table.
func ourFlows() *ovs.MatchFlow {
	return &ovs.MatchFlow{Table: ovs.AnyTable, Cookie: topology.FlowCookie, CookieMask: math.MaxUint64}
}

// client returns a go-openvswitch client, for the bundle, whose commands run
// through t.runner with ctx, with --no-names as every ovs-ofctl run of ours
// (see ofctl). It is built per call because go-openvswitch's exec hooks take no
// context; building one starts nothing. OpenFlow 1.4 is the first version with
// bundles.
func (t *Table) client(ctx context.Context) *ovs.Client {
	return ovs.New(
		ovs.Timeout(t.timeoutSeconds()),
		ovs.Protocols([]string{ovs.ProtocolOpenFlow14}),
		ovs.Exec(func(name string, args ...string) ([]byte, error) {
			return t.runner.Run(ctx, nil, name, withNoNames(name, args)...)
		}),
		ovs.Pipe(func(stdin io.Reader, name string, args ...string) ([]byte, error) {
			return t.runner.Run(ctx, stdin, name, withNoNames(name, args)...)
		}),
	)
}

// noNames is ovs-ofctl's flag for ports as numbers (see ofctl).
const noNames = "--no-names"

// withNoNames returns an ovs-ofctl command's arguments with --no-names first.
func withNoNames(name string, args []string) []string {
	if name != "ovs-ofctl" {
		return args
	}
	return append([]string{noNames}, args...)
}

// Apply makes the flows with ovsmesh's cookie on the bridge exactly want (Set
// semantics) and returns one line per flow added or deleted, e.g.
//
//	add flow table=1,priority=100,arp,arp_tpa=172.17.0.2,actions=output:32770
//
// It reads the installed flows (Read: one ovs-ofctl dump-flows) and, when they
// differ, sends one atomic bundle (see plan for what it holds); when they match it
// sends no flow modification at all. Flows with another cookie are never touched,
// but a wanted flow with the same table, priority and match as a foreign one
// replaces it, as any OpenFlow add does. With dryRun it only reads and returns
// what it would change.
func (t *Table) Apply(ctx context.Context, want []topology.Flow, dryRun bool) ([]string, error) {
	r, err := t.Read(ctx)
	if err != nil {
		return nil, err
	}
	return r.Apply(ctx, want, dryRun)
}

// Reading is the flows with ovsmesh's cookie on a bridge at the moment Read
// dumped them.
type Reading struct {
	t    *Table
	have []entry
	// noBridge is the dump's error when the bridge does not exist: a dry run then
	// reports every flow as added, a real Apply fails with it.
	noBridge error
	// verified, when not nil, is the table a count found as many flows of as it
	// has (see check.go); have is then empty.
	verified  []topology.Flow
	verifiedE []entry // verified's entries (see verify)
	// prepared is the bundle computed for a bridge just created (see Created).
	prepared *prepared
}

// Read dumps the flows with ovsmesh's cookie (one ovs-ofctl dump-flows). A bridge
// that does not exist yet reads as empty (see Reading.Apply). Reading the table
// apart from applying it lets a pass read while it brings OVSDB to the plan; the
// reading is only as fresh as the moment of the dump, so the caller reads again
// after anything that may have changed the flows. With WithFullCheckEvery, a
// Table that recently found its flows exactly as wanted only counts them (see
// check.go).
func (t *Table) Read(ctx context.Context) (*Reading, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, err := t.countReading(ctx); r != nil || err != nil {
		return r, err
	}
	return t.readFull(ctx)
}

// readFull is Read's dump; t.mu is held.
func (t *Table) readFull(ctx context.Context) (*Reading, error) {
	out, err := t.dump(ctx)
	if err != nil && strings.Contains(err.Error(), "is not a bridge or a socket") {
		t.verify(nil, nil, false) // a bridge created later starts with no flows: dump it
		return &Reading{t: t, noBridge: fmt.Errorf("dump ovsmesh flows of bridge %q: %w", t.bridge, err)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dump ovsmesh flows of bridge %q: %w", t.bridge, err)
	}
	return &Reading{t: t, have: dumpEntries(out)}, nil
}

// Apply makes the read flows want (see Table.Apply): it sends one bundle when
// they differ, nothing when they match, and only returns the changes with dryRun.
func (r *Reading) Apply(ctx context.Context, want []topology.Flow, dryRun bool) ([]string, error) {
	t := r.t
	if r.verified != nil {
		if slices.EqualFunc(want, r.verified, topology.Flow.Equal) {
			t.log.Debug("flow table up to date (flows counted)", "bridge", t.bridge, "flows", len(want))
			return nil, nil
		}
	}
	if r.noBridge != nil && !dryRun {
		return nil, r.noBridge
	}
	prep := r.preparedFor(want)
	var (
		wantE []entry
		err   error
	)
	if prep != nil {
		wantE = prep.entries
	} else if wantE, err = wantEntries(want); err != nil {
		return nil, fmt.Errorf("flow table of bridge %q: %w", t.bridge, err)
	}
	// A dry run on a host whose bridge does not exist yet (the real pass creates
	// it first) finds no flows: every flow would be added.
	have := r.have
	if r.verified != nil {
		// Another table is wanted than the one counted: the difference is
		// computed from the verified table (see check.go), without a dump.
		have = r.verifiedE
	}
	p := diff(wantE, have)
	changes := p.changes()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(changes) == 0 {
		if !dryRun {
			t.verify(want, wantE, r.verified == nil)
		}
		t.log.Debug("flow table up to date", "bridge", t.bridge, "flows", len(wantE))
		return nil, nil
	}
	if dryRun {
		return changes, nil
	}
	var text []byte
	if prep != nil && len(p.add) == len(prep.entries) && !p.replace && len(p.deletes) == 0 {
		text = prep.text // every flow added, none deleted: the prepared bundle
	}
	if err := t.send(ctx, p, text); err != nil {
		t.verify(nil, nil, false)
		return nil, fmt.Errorf("install %d flows and delete %d on bridge %q in one bundle: %w", len(p.add), len(p.deletes), t.bridge, err)
	}
	// The bundle was committed atomically on the table read: it now holds want,
	// as checked by that reading but for what the bundle changed.
	t.verify(want, wantE, r.verified == nil)
	t.log.Debug("flow table updated", "bridge", t.bridge, "added", len(p.missing),
		"deleted", len(p.stale), "replaced", p.replace, "flows", len(wantE))
	return changes, nil
}

// send sends the plan in one atomic bundle. go-openvswitch writes a bundle of
// adds and non-strict deletes (AddFlowBundle), which is all a plan without strict
// deletes needs. Its FlowTransaction has no strict delete (its directives are
// "add" and "delete", unexported, and its MatchFlow has no priority), so a plan
// that removes single flows writes the same bundle file itself: one
// "delete_strict" line per flow to remove, then the adds, each flow's text
// written by go-openvswitch, piped to the same `ovs-ofctl --bundle add-flows`
// command AddFlowBundle runs. So is prepared, the text of a plan that adds every
// flow into an empty table, computed in advance (see Created).
func (t *Table) send(ctx context.Context, p plan, prepared []byte) error {
	if prepared != nil {
		_, err := t.ofctlIn(ctx, bytes.NewReader(prepared), "--bundle", "add-flows", t.bridge, "-")
		return err
	}
	if len(p.deletes) == 0 {
		return t.client(ctx).OpenFlow.AddFlowBundle(t.bridge, p.fill)
	}
	var b bytes.Buffer
	for _, e := range p.deletes {
		// Deletes come first: one may remove a flow with the match an add
		// then installs (a flag ovsmesh never sets made it differ).
		fmt.Fprintf(&b, "delete_strict %s,%s\n", e.match, ourCookieMatch)
	}
	if err := appendAdds(&b, p.add); err != nil {
		return err
	}
	_, err := t.ofctlIn(ctx, &b, "--bundle", "add-flows", t.bridge, "-")
	return err
}

// fill writes an add-only or full-replace plan into go-openvswitch's bundle:
// with replace, the delete of all our flows comes first, so that the adds that
// follow survive it.
func (p plan) fill(tx *ovs.FlowTransaction) error {
	if p.replace {
		tx.Delete(ourFlows())
	}
	flows := make([]*ovs.Flow, len(p.add))
	for i, e := range p.add {
		f, err := toOVS(*e.flow)
		if err != nil {
			return err
		}
		flows[i] = f
	}
	tx.Add(flows...)
	return tx.Commit()
}

// dump returns the bridge's flows with ovsmesh's cookie as ovs-ofctl prints them
// (see dumpEntries); ports are numbers (--no-names, see ofctlIn). Not --no-stats: ovs-ofctl 3.1 takes another path for
// it that ran 2.5-3 times slower (64 against 24 ms for 4000 flows, 156 against
// 47 ms for 10,000), for text only a third shorter.
func (t *Table) dump(ctx context.Context) ([]byte, error) {
	return t.ofctl(ctx, "dump-flows", t.bridge, ourCookieMatch)
}

// ofctl runs ovs-ofctl with the Table's timeout and OpenFlow 1.4 and returns its
// output. Its error carries the command line and the output.
//
// Every run has --no-names: ports are numbers in what ovs-ofctl prints (the
// default only when stdout is not a terminal) and in what it parses (ovsmesh's
// flows name ports by number, or LOCAL), and ovs-ofctl does not first ask
// ovs-vswitchd for every port's name on a connection of its own: at 1000 ports
// that is 9 ms of a one-flow bundle (39 against 30 ms) and 19 ms of a count.
func (t *Table) ofctl(ctx context.Context, args ...string) ([]byte, error) {
	return t.ofctlIn(ctx, nil, args...)
}

// ofctlIn is ofctl with a standard input.
func (t *Table) ofctlIn(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	// The context bounds it too, should ovs-ofctl's own --timeout not fire (it
	// covers the connection and each reply, not the whole run).
	ctx, cancel := context.WithTimeout(ctx, t.timeout+time.Second)
	defer cancel()
	argv := append([]string{"--timeout=" + strconv.Itoa(t.timeoutSeconds()), "-O", ovs.ProtocolOpenFlow14, noNames}, args...)
	out, err := t.runner.Run(ctx, stdin, "ovs-ofctl", argv...)
	if err != nil {
		return out, fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
	}
	return out, nil
}

// timeoutSeconds is ovs-ofctl's --timeout.
func (t *Table) timeoutSeconds() int { return int(math.Ceil(t.timeout.Seconds())) }

// Count returns how many flows with ovsmesh's cookie the bridge holds (one
// ovs-ofctl dump-aggregate, or its request over the management socket with
// WithDirectCount), for `ovsmesh status`.
func (t *Table) Count(ctx context.Context) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count(ctx)
}

// count is Count; t.mu is held.
func (t *Table) count(ctx context.Context) (int, error) {
	if t.mgmt != "" {
		n, err := t.countDirect(ctx)
		if err != nil {
			return 0, fmt.Errorf("count ovsmesh flows of bridge %q: %w", t.bridge, err)
		}
		return n, nil
	}
	out, err := t.ofctl(ctx, "dump-aggregate", t.bridge, ourCookieMatch)
	if err != nil {
		return 0, fmt.Errorf("count ovsmesh flows of bridge %q: %w", t.bridge, err)
	}
	n, err := flowCount(out)
	if err != nil {
		return 0, fmt.Errorf("count ovsmesh flows of bridge %q: %w", t.bridge, err)
	}
	return n, nil
}

// flowCount reads the flow_count of ovs-ofctl dump-aggregate's reply:
//
//	OFPST_AGGREGATE reply (OF1.4) (xid=0x6): packet_count=0 byte_count=0 flow_count=25
func flowCount(out []byte) (int, error) {
	for w := range strings.FieldsSeq(string(out)) {
		if v, ok := strings.CutPrefix(w, "flow_count="); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				break
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("no flow_count in ovs-ofctl's reply %q", bytes.TrimSpace(out))
}
