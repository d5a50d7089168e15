package agent

import (
	"context"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/ovsmesh/ovsmesh/fleet"
)

// dataPath is this host's view of its tunnels' BFD sessions, by remote address:
// a fleet member whose liveness lease expired (cut off from etcd) stays in the
// plan while its session is up (fleet.ViewOptions.DataPathUp). Safe for
// concurrent use.
type dataPath struct {
	up atomic.Pointer[map[netip.Addr]bool]
}

// isUp says whether the BFD session of this host's tunnel to r is up. Without
// BFD on the tunnel (or before the sessions are read) it says false: liveness
// alone decides.
func (d *dataPath) isUp(r fleet.Record) bool {
	m := d.up.Load()
	return m != nil && (*m)[r.Address]
}

// UpRemotes reads the remote addresses of this host's tunnels whose BFD session
// is up (from OVSDB's cache).
type UpRemotes func(ctx context.Context) (map[netip.Addr]bool, error)

// PollDataPath reads the tunnels' BFD sessions every second until ctx is done;
// a host that lost its liveness stays in the plan while its session is up. A
// failed reading leaves the last one in force.
func (a *Agent) PollDataPath(ctx context.Context, read UpRemotes) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if up, err := read(ctx); err == nil {
			a.dataPath.up.Store(&up)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
