package bench

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

func TestMedian(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var ds []time.Duration
		for _, x := range v {
			ds = append(ds, time.Duration(x)*time.Millisecond)
		}
		return ds
	}
	for _, tc := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{ms(7), 7 * time.Millisecond},
		{ms(9, 1, 5), 5 * time.Millisecond},
		{ms(4, 1, 3, 2), 2500 * time.Microsecond},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		1500 * time.Microsecond: "1.5 ms",
		81 * time.Millisecond:   "81 ms",
		1234 * time.Millisecond: "1.23 s",
		123 * time.Second:       "123 s",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestMesh checks the generated topology at the largest size the address plan
// allows: unique, valid underlay addresses in 198.18.0.0/15, every peer a tunnel,
// and the ovs-vsctl and ovs-ofctl forms of the same plan.
func TestMesh(t *testing.T) {
	m, err := newMesh(4095)
	if err != nil {
		t.Fatal(err)
	}
	bench := netip.MustParsePrefix("198.18.0.0/15")
	seen := map[netip.Addr]bool{}
	for i := 1; i <= 4095; i++ {
		a := hostAddr(i)
		b := a.As4()
		if !bench.Contains(a) || b[3] == 0 || b[3] == 255 || seen[a] {
			t.Fatalf("host %d: address %s", i, a)
		}
		seen[a] = true
	}
	if !underlay().Contains(hostAddr(4095)) || underlay().Addr() != hostAddr(1) {
		t.Errorf("underlay %s must be host 1's address on a prefix holding every peer", underlay())
	}
	var tun topology.Tunnel
	for _, t := range m.want.OVS.Tunnels {
		if t.Peer == "h2" {
			tun = t
		}
	}
	if got, want := strings.Join(m.addPort(tun), " "), "add-port br0 gre-h2 -- set interface gre-h2 type=gre options:remote_ip=198.18.0.3 ofport_request=32770"; got != want {
		t.Errorf("addPort = %q, want %q", got, want)
	}
	if got, want := len(m.bulk()), len(m.addBridge())+len(m.want.OVS.Tunnels)*(1+len(m.addPort(tun))); got != want {
		t.Errorf("bulk has %d arguments, want %d", got, want)
	}
	lines := m.flowLines()
	if len(lines) != len(m.want.Flows) || !strings.HasPrefix(lines[0], "cookie=0x6f76736d657368,table=0,priority=") {
		t.Errorf("%d flow lines, first %q", len(lines), lines[0])
	}
	if _, err := newMesh(4096); err == nil {
		t.Error("newMesh(4096): want an error, the /8 holds 4095 /20 slices")
	}
}

func TestPassTimeAndGC(t *testing.T) {
	d, err := passTime("h1: matches the plan, nothing to change (29ms)")
	if err != nil || d != 29*time.Millisecond {
		t.Errorf("passTime = %v, %v", d, err)
	}
	if _, err := passTime("h1: changed 3"); err == nil {
		t.Error("passTime without a duration: want an error")
	}
	out := "gc 1 @0.010s 2%: 0.1+1+0.01 ms clock\ngc 2 @0.050s 6%: 0.1+2+0.01 ms clock\nh1: matches the plan\n"
	if got, want := gcSummary(out), "2 GC cycles, 6% of the CPU time until 0.050s"; got != want {
		t.Errorf("gcSummary = %q, want %q", got, want)
	}
}
