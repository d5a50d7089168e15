package cli

import (
	"context"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/ovsmesh/ovsmesh/fleet"
	"github.com/ovsmesh/ovsmesh/ovsdb"
)

// dataPath is this host's view of its tunnels' BFD sessions, by remote address:
// a fleet member whose liveness lease expired (cut off from etcd) stays in the
// plan while its session is up (fleet.ViewOptions.DataPathUp). Safe for
// concurrent use.
type dataPath struct {
	up atomic.Pointer[map[netip.Addr]bool]
}

// isUp says whether the BFD session of this host's tunnel to r is up. Without
// BFD on the tunnel (or before OVSDB is read) it says false: liveness alone
// decides.
func (d *dataPath) isUp(r fleet.Record) bool {
	m := d.up.Load()
	return m != nil && (*m)[r.Address]
}

// poll reads the BFD state of this host's tunnels from OVSDB's cache every
// second until ctx is done.
func (d *dataPath) poll(ctx context.Context, db *ovsdb.Client) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if st, err := db.State(ctx); err == nil {
			d.set(st)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// set records the tunnels of st whose BFD session is up.
func (d *dataPath) set(st ovsdb.Status) {
	up := map[netip.Addr]bool{}
	for _, b := range st.Bridges {
		for _, p := range b.Ports {
			if s := p.BFDState(); !p.Tunnel() || s == nil || s.State != "up" {
				continue
			}
			if a, err := netip.ParseAddr(p.Options["remote_ip"]); err == nil {
				up[a] = true
			}
		}
	}
	d.up.Store(&up)
}
