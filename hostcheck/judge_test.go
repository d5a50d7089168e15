package hostcheck

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

func TestJudgeUnderlay(t *testing.T) {
	p := Plan{UnderlayMTU: 1500, Overhead: 50}
	a := netip.MustParseAddr("198.18.0.2")
	for _, tc := range []struct {
		r    PathResult
		want Status
		fix  string
	}{
		{PathResult{Peer: "d2", Address: a, Reachable: true, Largest: 1500}, OK, ""},
		{PathResult{Peer: "d2", Address: a, Reachable: true, Largest: 1400}, Problem, "underlay_mtu: 1400 (overlay mtu 1350)"},
		{PathResult{Peer: "d2", Address: a}, Problem, "reachable"},
	} {
		it := JudgeUnderlay(p, tc.r)
		if it.Status != tc.want || !strings.Contains(it.Fix, tc.fix) || (tc.fix == "") != (it.Fix == "") {
			t.Errorf("%+v: got %+v", tc.r, it)
		}
	}
}

func TestProbePathFindsLargest(t *testing.T) {
	a := netip.MustParseAddr("198.18.0.2")
	for _, limit := range []int{68, 1000, 1400, 1499, 1500, 9000} {
		ping := func(_ context.Context, _ netip.Addr, size int) bool { return size <= limit }
		r := ProbePath(context.Background(), ping, "d2", a, 1500)
		if want := min(limit, 1500); !r.Reachable || r.Largest != want {
			t.Errorf("limit %d: got %+v, want largest %d", limit, r, want)
		}
	}
	r := ProbePath(context.Background(), func(context.Context, netip.Addr, int) bool { return false }, "d2", a, 1500)
	if r.Reachable || r.Largest != 0 {
		t.Errorf("no answers: got %+v", r)
	}
}
