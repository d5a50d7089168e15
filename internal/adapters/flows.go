package adapters

import (
	"context"
	"log/slog"
	"time"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/openflow"
)

// FlowTimeout bounds each ovs-ofctl run. A bundle of 10,000 flows takes about half
// a second; while ovsdb-server is down the userspace datapath's ovs-vswitchd does
// not answer OpenFlow at all, and a shorter bound lets the loop retry sooner.
const FlowTimeout = 10 * time.Second

// FlowTables is the Reconciler's Flows: it reaches the flow table of whichever
// bridge the topology names, each ovs-ofctl run bounded by FlowTimeout.
type FlowTables struct{ Log *slog.Logger }

var _ controller.Flows = FlowTables{}

// Read reads the bridge's flows (one ovs-ofctl dump-flows).
func (ft FlowTables) Read(ctx context.Context, bridge string) (controller.FlowTable, error) {
	r, err := openflow.New(bridge, ft.Log, openflow.WithTimeout(FlowTimeout)).Read(ctx)
	if err != nil {
		return nil, err // not a nil *Reading in a non-nil interface
	}
	return r, nil
}
