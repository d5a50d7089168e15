package fleet

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestJoinRefusesARecordNoViewCouldHold: apply --etcd refuses to join with a
// record every host would skip, says why, and writes nothing.
func TestJoinRefusesARecordNoViewCouldHold(t *testing.T) {
	c := newTestClient(t)
	ctx := testCtx(t)
	seed := []Record{{Name: "seeded", Address: netip.MustParseAddr("172.30.9.9"), Index: 7}} // inside the subnet
	if err := c.Init(ctx, labNetwork(), seed); err != nil {                                  // Init itself writes what it is given
		t.Fatal(err)
	}
	if _, err := c.Join(ctx, "h1", netip.MustParseAddr("198.18.0.1"), "m1"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, addr, want string }{
		{"h6", "2001:db8::6", "is IPv6, and the fleet's underlay is IPv4"},
		{"h7", "172.30.5.9", "lies inside network.subnet"},
		{strings.Repeat("x", 64), "198.18.0.8", "not a host name"},
		{"seeded", "172.30.9.9", "lies inside network.subnet"},
		{"h9", "198.18.0.1", "registered first by h1"},
	} {
		_, err := c.Join(ctx, tc.name, netip.MustParseAddr(tc.addr), "m-"+tc.addr)
		t.Logf("refused: %v", err)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("join %.10s at %s: %v, want a refusal saying %q", tc.name, tc.addr, err, tc.want)
		}
	}
	s, err := c.Snapshot(ctx, ViewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Members) != 1 || s.Members[0].Name != "h1" {
		t.Errorf("members %+v, want h1 alone", s.Members)
	}
	if len(s.Stale) != 1 || s.Stale[0].Key != c.Keys.Host("seeded") {
		t.Errorf("stale %+v, want the seeded record only (the refused joins wrote nothing)", s.Stale)
	}
}
