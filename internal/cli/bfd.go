package cli

import (
	"context"
	"strconv"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/ovsdb"
)

// stateReader reads the bridges ovsmesh owns from the OVSDB cache.
type stateReader interface {
	State(ctx context.Context) (ovsdb.Status, error)
}

// bfdSessions is the Reconciler's BFDSessions, read from the OVSDB cache.
type bfdSessions struct{ db stateReader }

var _ controller.BFDSessions = bfdSessions{}

// SeenUp returns the bridge's tunnels with BFD whose session is up or has been
// (ovs-vswitchd counts a flap each time forwarding changes, so a session that
// came up once has a flap count above 0 until ovs-vswitchd restarts).
func (b bfdSessions) SeenUp(ctx context.Context, bridge string) (map[string]bool, error) {
	st, err := b.db.State(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, br := range st.Bridges {
		if br.Name != bridge {
			continue
		}
		for _, p := range br.Ports {
			flaps, _ := strconv.Atoi(p.BFDStatus["flap_count"])
			if p.BFD["enable"] == "true" && (p.BFDStatus["state"] == "up" || flaps > 0) {
				seen[p.Name] = true
			}
		}
	}
	return seen, nil
}
