package topology

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// bfdFile is an n-host topology with the given network entries (YAML flow
// mapping; encap gre unless they say), hosts h001... at 10.0.x.y.
func bfdFile(network string, n int) string {
	var sb strings.Builder
	if !strings.Contains(network, "encap:") {
		network = "encap: gre, " + network
	}
	fmt.Fprintf(&sb, "network: {subnet: 240.0.0.0/4, slice_prefix: 18, %s}\nhosts:\n", network)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&sb, "  - {name: h%03d, address: 10.0.%d.%d, index: %d}\n", i, i>>8, i&255, i)
	}
	return sb.String()
}

func TestBFDValidation(t *testing.T) {
	cases := []struct {
		name, network string
		hosts         int
		want          string // "" valid
	}{
		{"defaults", "bfd: true", 3, ""},
		{"timers given", "bfd: true, bfd_interval_ms: 300, bfd_mult: 5", 3, ""},
		{"interval too short", "bfd: true, bfd_interval_ms: 5", 3, "network.bfd_interval_ms: 5 is out of range (10 to 10000 milliseconds)"},
		{"interval too long", "bfd: true, bfd_interval_ms: 20000", 3, "network.bfd_interval_ms: 20000 is out of range (10 to 10000 milliseconds)"},
		{"mult 0", "bfd: true, bfd_mult: 0", 3, "network.bfd_mult: 0 is out of range (1 to 255 packets)"},
		{"mult 256", "bfd: true, bfd_mult: 256", 3, "network.bfd_mult: 256 is out of range (1 to 255 packets)"},
		{"timers without bfd are ignored", "bfd: false, bfd_interval_ms: 5", 3, ""},
		{"key in a relaying mesh", "bfd: true, key: 7", 3, "network.key: cannot be used with bfd: true in mode mesh"},
		{"key with bfd in stp", "mode: stp, bfd: true, key: 7", 3, ""},
		{"largest relaying mesh", "bfd: true", MaxRelayHosts, ""},
		{"relaying mesh too large", "bfd: true", MaxRelayHosts + 1, "hosts[0]: 1001 hosts: a mesh with bfd: true takes at most 1000"},
		{"large mesh without bfd", "bfd: false", MaxRelayHosts + 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile("t.yaml", []byte(bfdFile(tc.network, tc.hosts)))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestBFDDefaults: 100 ms and 3 packets up to 100 hosts, then 1 ms per host.
func TestBFDDefaults(t *testing.T) {
	for _, tc := range []struct{ hosts, interval int }{{3, 100}, {100, 100}, {101, 101}, {1000, 1000}} {
		topo, err := Compile("t.yaml", []byte(bfdFile("bfd: true", tc.hosts)))
		if err != nil {
			t.Fatal(err)
		}
		s, err := topo.Desired("h001")
		if err != nil {
			t.Fatal(err)
		}
		tu := s.OVS.Tunnels[0]
		want := map[string]string{"enable": "true", "min_rx": fmt.Sprint(tc.interval), "min_tx": fmt.Sprint(tc.interval), "mult": "3"}
		if got := tu.BFDConfig(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%d hosts: bfd %v, want %v", tc.hosts, got, want)
		}
		if tu.Key != KeyFlow {
			t.Errorf("%d hosts: key %q, want %q", tc.hosts, tu.Key, KeyFlow)
		}
	}
}

// TestRelayOverhead: a relaying GRE mesh keys every packet, 4 bytes; VXLAN
// always carries a VNI.
func TestRelayOverhead(t *testing.T) {
	for network, want := range map[string]int{
		"bfd: true":                        1458,
		"bfd: false":                       1462,
		"encap: vxlan, bfd: true":          1450,
		"mode: stp, bfd: true":             1462,
		"encap: vxlan, mode: stp":          1450,
		"mode: stp, rstp: true, bfd: true": 1462,
	} {
		topo, err := Compile("t.yaml", []byte(bfdFile(network, 3)))
		if err != nil {
			t.Fatal(err)
		}
		if topo.Network.MTU != want {
			t.Errorf("%s: mtu %d, want %d", network, topo.Network.MTU, want)
		}
	}
}

func TestRelaysFor(t *testing.T) {
	const n = 100
	indexes := make([]int, n)
	for i := range indexes {
		indexes[i] = i + 1
	}
	primary := map[int]int{}
	for a := 1; a <= n; a++ {
		for b := a + 1; b <= n; b++ {
			r, k := relaysFor(a, b, indexes)
			if back, _ := relaysFor(b, a, indexes); back != r {
				t.Fatalf("relays of (%d,%d) %v, of (%d,%d) %v: want the same", a, b, r, b, a, back)
			}
			if k != 2 || r[0] == r[1] || slices.Contains(r[:], a) || slices.Contains(r[:], b) {
				t.Fatalf("relays of (%d,%d): %v (%d), want two distinct other hosts", a, b, r, k)
			}
			primary[r[0]]++
		}
	}
	// 4950 pairs over 100 hosts: about 50 each.
	lo, hi := n*n, 0
	for _, c := range primary {
		lo, hi = min(lo, c), max(hi, c)
	}
	if len(primary) != n || lo < 20 || hi > 100 {
		t.Errorf("first relay of %d hosts, between %d and %d pairs each: want every host, about 50", len(primary), lo, hi)
	}
	// A new host only takes places: every pair whose relays change has it.
	grown := append(slices.Clone(indexes), n+1)
	changed := 0
	for a := 1; a <= n; a++ {
		for b := a + 1; b <= n; b++ {
			before, _ := relaysFor(a, b, indexes)
			after, _ := relaysFor(a, b, grown)
			if before != after {
				changed++
				if !slices.Contains(after[:], n+1) {
					t.Fatalf("pair (%d,%d): relays %v became %v without the new host", a, b, before, after)
				}
			}
		}
	}
	t.Logf("a 101st host changed the relays of %d of 4950 pairs", changed)
	if r, k := relaysFor(1, 2, []int{1, 2, 3}); k != 1 || r[0] != 3 {
		t.Errorf("three hosts: relays %v (%d), want [3]", r, k)
	}
	if _, k := relaysFor(1, 2, []int{1, 2}); k != 0 {
		t.Errorf("two hosts: %d relays, want none", k)
	}
}

// TestRelayTable pins the shape of a relaying mesh's table: its size, and the
// rules that keep it loop-free: only a relay's table-2 flows send a frame from
// a tunnel to another tunnel, always directly (never back through TableSend)
// and marked "relayed from"; such a frame is taken only from the pair's relays.
func TestRelayTable(t *testing.T) {
	topo, err := Compile("t.yaml", []byte(bfdFile("bfd: true", 10)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := topo.Desired("h001")
	if err != nil {
		t.Fatal(err)
	}
	peers := len(s.OVS.Tunnels)
	relays := 0
	for _, tu := range s.OVS.Tunnels {
		relays += len(tu.Relays.Names())
	}
	if want := 17*peers + relays + 32; len(s.Flows) != want || relays != 2*peers {
		t.Errorf("%d flows with %d relays, want %d (17 per peer, one per relay and 32)", len(s.Flows), relays, want)
	}
	accepts := 0
	for _, f := range s.Flows {
		acts := strings.Join(f.Actions, ",")
		switch {
		case f.Table == TableFromTunnel && f.TunID != "" && f.Priority == 100:
			if !strings.HasPrefix(acts, "load:0x400000->NXM_NX_TUN_ID[],move:NXM_OF_IN_PORT[0..14]") || strings.Contains(acts, "resubmit") {
				t.Errorf("relay flow %s: want it marked relayed-from and sent directly", f)
			}
		case f.Table == TableFromTunnel && strings.Contains(acts, "output:"):
			t.Errorf("table 2 flow %s sends a frame from a tunnel out of a tunnel", f)
		case f.Table == TableClassify && strings.HasPrefix(f.TunID, "0x4"):
			if f.TunID != anyRelayedFrom {
				accepts++
			}
		}
	}
	if accepts != relays {
		t.Errorf("%d flows take relayed frames, want one per relay of each peer (%d)", accepts, relays)
	}
}

// TestPathPolicy: a tunnel whose BFD session has never been up sends straight
// out of its port; the others keep the relay choice.
func TestPathPolicy(t *testing.T) {
	topo, err := Compile("t.yaml", []byte(bfdFile("bfd: true", 4)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := topo.DesiredWith("h001", PathPolicy{Observed: true, SeenUp: map[string]bool{"gre-h003": true, "gre-h004": true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range s.Flows {
		if f.Table != TableSend {
			continue
		}
		bundle := strings.HasPrefix(f.Actions[0], "bundle_load(")
		if direct := f.Reg6 == "0x8002"; direct == bundle {
			t.Errorf("%s: want the relay choice for every peer but h002, whose session was never up", f)
		}
	}
}

// TestPathMembers reads the choice back from the table, in its order.
func TestPathMembers(t *testing.T) {
	topo, err := Compile("t.yaml", []byte(bfdFile("bfd: true", 3)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := topo.DesiredWith("h001", PathPolicy{Observed: true, SeenUp: map[string]bool{"gre-h002": true}, RelayFirst: map[string]bool{"gre-h002": true}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(s.PathMembers()), "map[gre-h002:[gre-h003 gre-h002]]"; got != want {
		t.Errorf("PathMembers = %s, want %s", got, want)
	}
}
