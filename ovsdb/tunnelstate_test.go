package ovsdb

import (
	"fmt"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// TestBFDState: bfd_status is read only where bfd:enable is "true"; a session
// that was up once (a flap count above 0) counts as seen up.
func TestBFDState(t *testing.T) {
	for _, c := range []struct {
		port PortStatus
		want string
	}{
		{PortStatus{}, "<nil>"},
		{PortStatus{BFD: map[string]string{"enable": "false"}, BFDStatus: map[string]string{"state": "up"}}, "<nil>"},
		{PortStatus{BFD: map[string]string{"enable": "true"}}, `{State: Forwarding:false Flaps:0} {SeenUp:false Flaps:0}`},
		{PortStatus{BFD: map[string]string{"enable": "true"}, BFDStatus: map[string]string{"state": "up", "forwarding": "true", "flap_count": "1"}},
			`{State:up Forwarding:true Flaps:1} {SeenUp:true Flaps:1}`},
		{PortStatus{BFD: map[string]string{"enable": "true"}, BFDStatus: map[string]string{"state": "down", "forwarding": "false", "flap_count": "4"}},
			`{State:down Forwarding:false Flaps:4} {SeenUp:true Flaps:4}`},
		{PortStatus{BFD: map[string]string{"enable": "true"}, BFDStatus: map[string]string{"state": "init", "flap_count": "x"}},
			`{State:init Forwarding:false Flaps:0} {SeenUp:false Flaps:0}`},
	} {
		got := "<nil>"
		if s := c.port.BFDState(); s != nil {
			got = fmt.Sprintf("%+v %+v", *s, s.Session())
		}
		if got != c.want {
			t.Errorf("BFDState of bfd=%v bfd_status=%v: %s, want %s", c.port.BFD, c.port.BFDStatus, got, c.want)
		}
	}
}

// TestSpanningTree: a port's 802.1D and RSTP states, and the one of the
// protocol its bridge runs.
func TestSpanningTree(t *testing.T) {
	p := PortStatus{
		STPStatus:  map[string]string{"stp_role": "root", "stp_state": "forwarding"},
		RSTPStatus: map[string]string{"rstp_port_role": "Alternate", "rstp_port_state": "Discarding"},
	}
	show := func(s *STPState) string {
		if s == nil {
			return "<nil>"
		}
		return s.Role + "/" + s.State
	}
	got := fmt.Sprintf("stp=%s rstp=%s none=%s/%s on-stp=%s on-rstp=%s off=%s", show(p.STPState()), show(p.RSTPState()),
		show(PortStatus{STPStatus: map[string]string{"stp_role": "root"}}.STPState()), show(PortStatus{}.RSTPState()),
		show(BridgeStatus{STP: true}.SpanningTree(p)), show(BridgeStatus{RSTP: true}.SpanningTree(p)), show(BridgeStatus{}.SpanningTree(p)))
	want := "stp=root/forwarding rstp=Alternate/Discarding none=<nil>/<nil> on-stp=root/forwarding on-rstp=Alternate/Discarding off=<nil>"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestSessionsOf: the BFD sessions of one bridge's ports with BFD, whoever owns
// the port (as ovs-vswitchd reports them all).
func TestSessionsOf(t *testing.T) {
	on := map[string]string{"enable": "true"}
	st := Status{Bridges: []BridgeStatus{
		{Name: "br0", Ports: []PortStatus{
			{Name: "br0", Type: "internal"},
			{Name: "gre-docker2", Owned: true, Type: "gre", BFD: on, BFDStatus: map[string]string{"state": "up", "flap_count": "1"}},
			{Name: "gre-docker3", Owned: true, Type: "gre", BFD: on, BFDStatus: map[string]string{"state": "down"}},
			{Name: "gre-docker4", Owned: true, Type: "gre"},
		}},
		{Name: "br1", Ports: []PortStatus{{Name: "gre-x", Type: "gre", BFD: on, BFDStatus: map[string]string{"state": "up"}}}},
	}}
	got := fmt.Sprint(sessionsOf(st, "br0"))
	want := fmt.Sprint(map[string]topology.BFDSession{"gre-docker2": {SeenUp: true, Flaps: 1}, "gre-docker3": {}})
	if got != want {
		t.Errorf("sessions of br0: %s, want %s", got, want)
	}
	if got := sessionsOf(st, "br9"); len(got) != 0 {
		t.Errorf("sessions of a bridge not there: %v, want none", got)
	}
}

// TestTunnel: only ovsmesh's gre and vxlan ports are its tunnels.
func TestTunnel(t *testing.T) {
	for _, c := range []struct {
		port PortStatus
		want bool
	}{
		{PortStatus{Owned: true, Type: "gre"}, true},
		{PortStatus{Owned: true, Type: "vxlan"}, true},
		{PortStatus{Owned: false, Type: "gre"}, false},
		{PortStatus{Owned: true, Type: "internal"}, false},
		{PortStatus{Owned: true, Type: ""}, false},
		{PortStatus{Owned: true, Type: "geneve"}, false},
		{PortStatus{Owned: true, Type: "ip6gre"}, false},
	} {
		if got := c.port.Tunnel(); got != c.want {
			t.Errorf("Tunnel of owned=%v type=%q: %v, want %v", c.port.Owned, c.port.Type, got, c.want)
		}
	}
}
