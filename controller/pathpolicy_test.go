package controller

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

type fakeSessions map[string]topology.BFDSession

func (f fakeSessions) Sessions(context.Context, string) (map[string]topology.BFDSession, error) {
	return f, nil
}

// TestPathPolicyFromBFD: a tunnel whose session was never up goes direct; one
// that flapped 4 times within the hold prefers its relays until the hold passes
// without flaps; one flap-free outage changes nothing.
func TestPathPolicyFromBFD(t *testing.T) {
	topo, err := topology.Compile("t.yaml", []byte("network: {encap: gre, bfd: true, subnet: 172.17.0.0/16, slice_prefix: 20}\n"+
		"hosts:\n  - {name: docker1, address: 198.18.0.1, index: 1}\n  - {name: docker2, address: 198.18.0.2, index: 2}\n"+
		"  - {name: docker3, address: 198.18.0.3, index: 3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	sessions := fakeSessions{"gre-docker2": {SeenUp: true, Flaps: 1}, "gre-docker3": {SeenUp: false}}
	r := &Reconciler{Host: "docker1", BFD: sessions, FlapHold: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	send := func() map[string]string { // reg6 → table 9's actions
		want, err := r.desired(context.Background(), topo)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, f := range want.Flows {
			if f.Table == topology.TableSend {
				out[f.Reg6] = strings.Join(f.Actions, ",")
			}
		}
		return out
	}
	check := func(step, reg6, want string) {
		t.Helper()
		if got := send()[reg6]; !strings.Contains(got, want) {
			t.Errorf("%s: table 9 for %s: %s, want %s", step, reg6, got, want)
		}
	}
	check("start", "0x8002", "members:32770,32771)")
	check("start", "0x8003", "load:0->NXM_NX_TUN_ID[],output:32771")
	sessions["gre-docker2"] = topology.BFDSession{SeenUp: true, Flaps: 3} // one outage: down, up
	check("one outage", "0x8002", "members:32770,32771)")
	sessions["gre-docker2"] = topology.BFDSession{SeenUp: true, Flaps: 5} // a second one
	check("two outages", "0x8002", "members:32771,32770)")
	sessions["gre-docker3"] = topology.BFDSession{SeenUp: true, Flaps: 1}
	check("docker3 up", "0x8003", "members:32771,32770)")

	// The hold passes: the direct tunnel comes first again.
	r.flaps.observe(time.Now().Add(2*time.Hour), sessions, time.Hour)
	if r.flaps.unstable("gre-docker2") {
		t.Errorf("gre-docker2 still unstable after the hold")
	}
	// ovs-vswitchd restarted: counts start again, no flap is counted.
	var f flapTracker
	now := time.Now()
	f.observe(now, map[string]topology.BFDSession{"t": {Flaps: 9}}, time.Minute)
	f.observe(now, map[string]topology.BFDSession{"t": {Flaps: 1}}, time.Minute)
	f.observe(now, map[string]topology.BFDSession{"t": {Flaps: 2}}, time.Minute)
	if len(f.events["t"]) != 1 {
		t.Errorf("after a restart: %d flaps remembered, want 1", len(f.events["t"]))
	}
	// Hold 0 remembers nothing.
	var off flapTracker
	off.observe(now, map[string]topology.BFDSession{"t": {Flaps: 1}}, 0)
	off.observe(now, map[string]topology.BFDSession{"t": {Flaps: 9}}, 0)
	if off.unstable("t") {
		t.Errorf("hold 0: unstable")
	}
}
