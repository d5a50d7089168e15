package adapters

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/openflow"
	"github.com/ovsmesh/ovsmesh/topology"
)

// FlowTimeout bounds each ovs-ofctl run. A bundle of 10,000 flows takes about half
// a second; while ovsdb-server is down the userspace datapath's ovs-vswitchd does
// not answer OpenFlow at all, and a shorter bound lets the loop retry sooner.
const FlowTimeout = 10 * time.Second

// FullFlowCheck is how long a loop trusts a flow table it verified by a whole
// dump while only the number of flows is checked (see openflow.WithFullCheckEvery).
const FullFlowCheck = 5 * time.Minute

// FlowTables is the Reconciler's Flows: it reaches the flow table of whichever
// bridge the topology names, each ovs-ofctl run (and each count over the bridge's
// management socket in $OVS_RUNDIR, see openflow.WithDirectCount) bounded by
// FlowTimeout. It keeps one openflow.Table per bridge, so that a loop's passes
// share what the last whole dump verified. Use it by pointer; the zero value
// (with Log set) is ready.
type FlowTables struct {
	Log    *slog.Logger
	mu     sync.Mutex
	tables map[string]*openflow.Table
}

var (
	_ controller.Flows     = (*FlowTables)(nil)
	_ controller.Predictor = (*FlowTables)(nil)
)

// table returns the bridge's Table.
func (ft *FlowTables) table(bridge string) *openflow.Table {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	t, ok := ft.tables[bridge]
	if !ok {
		t = openflow.New(bridge, ft.Log, openflow.WithTimeout(FlowTimeout), openflow.WithFullCheckEvery(FullFlowCheck),
			openflow.WithDirectCount(""))
		ft.tables = map[string]*openflow.Table{bridge: t} // a renamed bridge's Table is dropped
	}
	return t
}

// Predicted is the bridge's table as last verified, when want differs from it
// (see openflow.Table.Predicted).
func (ft *FlowTables) Predicted(bridge string, want []topology.Flow) controller.FlowTable {
	if r := ft.table(bridge).Predicted(want); r != nil {
		return r
	}
	return nil // not a nil *Reading in a non-nil interface
}

// Read reads the bridge's flows (one ovs-ofctl dump-flows, or, while the last
// whole dump is trusted, a count over the bridge's management socket).
func (ft *FlowTables) Read(ctx context.Context, bridge string) (controller.FlowTable, error) {
	r, err := ft.table(bridge).Read(ctx)
	if err != nil {
		return nil, err // not a nil *Reading in a non-nil interface
	}
	return reading{r}, nil
}

// reading is a Reading that is a controller.Creator.
type reading struct{ *openflow.Reading }

// Created is the reading of the bridge as created (see openflow.Reading.Created).
func (r reading) Created(want []topology.Flow) controller.FlowTable {
	if c := r.Reading.Created(want); c != nil {
		return c
	}
	return nil // not a nil *Reading in a non-nil interface
}
