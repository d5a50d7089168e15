package agent

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

// TestPollDataPath: a host is kept by its data path while the reading says its
// tunnel's BFD session is up; before any reading, and for other hosts, liveness
// alone decides; a failed reading leaves the last one in force.
func TestPollDataPath(t *testing.T) {
	a := newTestAgent(t)
	if a.dataPath.isUp(d2) {
		t.Error("up before any reading")
	}
	read := func(up map[netip.Addr]bool, err error) UpRemotes {
		return func(context.Context) (map[netip.Addr]bool, error) { return up, err }
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // one reading, then PollDataPath returns
	a.PollDataPath(ctx, read(map[netip.Addr]bool{d2.Address: true}, nil))
	if !a.dataPath.isUp(d2) || a.dataPath.isUp(d1) {
		t.Errorf("after a reading with docker2 up: docker2 %v, docker1 %v; want true, false", a.dataPath.isUp(d2), a.dataPath.isUp(d1))
	}
	a.PollDataPath(ctx, read(nil, errors.New("ovsdb-server unreachable")))
	if !a.dataPath.isUp(d2) {
		t.Error("a failed reading dropped the last one")
	}
}
