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

// Sessions returns the BFD sessions of the bridge's tunnels with BFD. A session
// that came up once has a flap count above 0 until ovs-vswitchd restarts
// (ovs-vswitchd counts a flap each time forwarding changes).
func (b bfdSessions) Sessions(ctx context.Context, bridge string) (map[string]controller.BFDSession, error) {
	st, err := b.db.State(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]controller.BFDSession{}
	for _, br := range st.Bridges {
		if br.Name != bridge {
			continue
		}
		for _, p := range br.Ports {
			flaps, _ := strconv.Atoi(p.BFDStatus["flap_count"])
			if p.BFD["enable"] == "true" {
				seen[p.Name] = controller.BFDSession{SeenUp: p.BFDStatus["state"] == "up" || flaps > 0, Flaps: flaps}
			}
		}
	}
	return seen, nil
}
