package openflow

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// WithFullCheckEvery lets a Table that found its flows exactly as wanted (or made
// them so with a bundle, from a whole dump) skip the dump for d: until then Read
// only counts the flows with ovsmesh's cookie (one ovs-ofctl dump-aggregate, a
// single OpenFlow request, which WithDirectCount sends itself) and, when the
// number is still that of the verified table and the same table is wanted,
// reports it as up to date. When another table is wanted, the bundle is computed
// from the verified table, without a dump: adding or removing a peer costs a
// count and the bundle.
// Any other count, a missing bridge or a verification older than d means a whole
// dump, as without the option; a count that fails otherwise is Read's error. 0
// (the default): every Read dumps.
//
// What the count misses until the next whole dump: a change that keeps the number
// of our flows, i.e. a flow of ours modified in place (ovs-ofctl mod-flows, or
// add-flow over one of ours with our cookie) or one deleted while another with our
// cookie was added. A deleted flow, a flushed table (ovs-vswitchd restarted, the
// bridge recreated), a flow of ours replaced by a foreign one with the same match,
// and an added one all change the count and are repaired by the same pass. A loop
// passing every interval therefore repairs every drift within d plus one interval.
func WithFullCheckEvery(d time.Duration) Option { return func(t *Table) { t.fullEvery = d } }

// countReading returns a Reading that only counted the flows, when the option
// allows one and the count is the verified table's; nil and no error means Read
// must dump. The count is taken here, not when the reading is applied: a pass
// reads while ovsdb-server may be unreachable, and bounds and abandons the read,
// not the apply (see controller's pass). A count that fails is Read's error, as
// a failed dump is: a dump after it would wait for the same stuck ovs-vswitchd
// as long again. Only a missing bridge is left to the dump, which reads it as
// empty. t.mu is held.
func (t *Table) countReading(ctx context.Context) (*Reading, error) {
	if !t.trusted() {
		return nil, nil
	}
	n, err := t.count(ctx)
	switch {
	case err != nil && strings.Contains(err.Error(), "is not a bridge or a socket"):
		return nil, nil
	case err != nil:
		return nil, err
	case n != len(t.verified):
		return nil, nil
	}
	return &Reading{t: t, verified: t.verified, verifiedE: t.verifiedE}, nil
}

// Predicted returns, without reading the bridge, a Reading of the table as it
// was last verified, from which want is installed; nil when no verification is
// recent enough (see WithFullCheckEvery) or want is the verified table (a count
// must then say whether the table is still as verified). Applying it sends the
// bundle a counted reading would give when the table is still as verified:
// adding or removing a peer costs the bundle alone. A table that drifted since
// (a count would have seen it) gets that bundle too, which may leave the drift
// in place: the caller reads the table again after installing (one count) and
// repairs it in the same pass.
func (t *Table) Predicted(want []topology.Flow) *Reading {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.trusted() || slices.EqualFunc(want, t.verified, topology.Flow.Equal) {
		return nil
	}
	return &Reading{t: t, verified: t.verified, verifiedE: t.verifiedE}
}

// trusted says whether the option allows trusting the verified table now: one
// was verified, less than d ago. t.mu is held.
func (t *Table) trusted() bool {
	return t.fullEvery > 0 && t.verified != nil && time.Since(t.verifiedAt) < t.fullEvery
}

// verify records want, whose entries are wantE, as installed (nil: nothing
// verified). dumped says a whole dump found it just now, or a bundle committed on
// such a dump made it: that starts a new period of d; a table changed from a
// counted reading keeps the period of the dump it comes from. The entries are
// kept (asVerified), so that the next table's difference does not canonicalize
// the verified one again (9 ms at 14,000 flows). verify is the only writer of
// verified and its entries. t.mu is held.
func (t *Table) verify(want []topology.Flow, wantE []entry, dumped bool) {
	if want == nil || t.fullEvery <= 0 {
		t.verified, t.verifiedE = nil, nil
		return
	}
	if !slices.EqualFunc(want, t.verified, topology.Flow.Equal) {
		t.verified = slices.Clone(want)
		t.verifiedE = asVerified(wantE)
	}
	if dumped {
		t.verifiedAt = time.Now()
	}
}

// asVerified returns a copy of a wanted table's entries as a dump would give
// them once installed: no pointer into the wanted flows, each with its identity
// (table, priority and match in ovs-ofctl's syntax, as Flow.String writes it) as
// the match a strict delete names.
func asVerified(es []entry) []entry {
	out := make([]entry, len(es))
	for i, e := range es {
		out[i] = entry{id: e.id, text: e.text, match: e.id}
	}
	return out
}
