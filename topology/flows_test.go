package topology

import (
	"strconv"
	"strings"
	"testing"
)

// BenchmarkPlan1000 is BenchmarkPlan10000 for one host of a 1,000-host mesh; both
// report the host's flow count.
func BenchmarkPlan1000(b *testing.B) {
	path := bigTopology(b, 1000, ModeMesh)
	b.ReportAllocs()
	var flows int
	for b.Loop() {
		topo, err := Load(path)
		if err != nil {
			b.Fatal(err)
		}
		s, err := topo.Desired("host00500")
		if err != nil || len(s.OVS.Tunnels) != 999 {
			b.Fatalf("%v, %d tunnels", err, len(s.OVS.Tunnels))
		}
		flows = len(s.Flows)
	}
	b.ReportMetric(float64(flows), "flows")
}

func labState(t *testing.T, mode, host string) HostState {
	t.Helper()
	topo, err := Compile("lab.yaml", []byte("network: {encap: gre, mode: "+mode+", subnet: 172.17.0.0/16, slice_prefix: 20}\n"+
		"hosts:\n  - {name: docker1, address: 198.18.0.1, index: 1}\n  - {name: docker2, address: 198.18.0.2, index: 2}\n"+
		"  - {name: docker3, address: 198.18.0.3, index: 3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := topo.Desired(host)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFlowCount pins the size of a mesh table: 14 flows per peer and 28 more.
func TestFlowCount(t *testing.T) {
	s := labState(t, ModeMesh, "docker1")
	if n, want := len(s.Flows), 14*len(s.OVS.Tunnels)+28; n != want {
		t.Errorf("%d flows, want %d", n, want)
	}
}

// TestMACCheckPerPort checks the MAC identity tables of a mesh: every port has
// exactly one flow that passes a MAC learned on it, and flows that learn a new MAC
// with the port's own cookie and a quota of its slice's size: one for LOCAL, and
// for a tunnel one each for IPv4 and ARP (whose sources table 0 tied to the peer)
// beside one that passes other frames of an unknown MAC without learning.
func TestMACCheckPerPort(t *testing.T) {
	s := labState(t, ModeMesh, "docker1")
	ports := []int{PortLocal}
	for _, tu := range s.OVS.Tunnels {
		ports = append(ports, tu.OFPort)
	}
	for _, p := range ports {
		var pass, learns, unlearned int
		for _, f := range s.Flows {
			if f.Table != TableMACCheck || f.InPort != p {
				continue
			}
			switch {
			case f.Reg4 == regValue(ofPort16(p)):
				pass++
			case f.Reg4 == "0" && len(f.Actions) == 1 && f.Actions[0] == Resubmit(TableFromTunnel):
				unlearned++
			case f.Reg4 == "0":
				learns++
				cookie := "cookie=0x" + strconv.FormatUint(LearnedCookie(ofPort16(p)), 16) + ","
				if !strings.Contains(f.Actions[0], cookie) || !strings.Contains(f.Actions[0], "limit=4096,") {
					t.Errorf("port %d learns with %q, want %s and limit=4096 (a /20 slice)", p, f.Actions[0], cookie)
				}
				if LearnedCookie(ofPort16(p)) == FlowCookie {
					t.Errorf("port %d: learned cookie is ovsmesh's own", p)
				}
			default:
				t.Errorf("unexpected MAC check flow %s", f)
			}
		}
		wantLearns, wantUnlearned := 2, 1
		if p == PortLocal {
			wantLearns, wantUnlearned = 1, 0
		}
		if pass != 1 || learns != wantLearns || unlearned != wantUnlearned {
			t.Errorf("port %d: %d passing, %d learning and %d unlearned flows, want 1, %d and %d", p, pass, learns, unlearned, wantLearns, wantUnlearned)
		}
	}
}

// TestGuardsInEveryMode checks that every mode drops tagged frames, group source
// MACs, router advertisements and redirects before anything else, and sends
// everything it lets through to the MAC check.
func TestGuardsInEveryMode(t *testing.T) {
	for _, mode := range []string{ModeMesh, ModeSTP, ModeTree} {
		s := labState(t, mode, "docker2")
		got := map[string]bool{}
		for _, f := range s.Flows {
			if f.Table != TableClassify {
				continue
			}
			if f.Priority >= 110 {
				if len(f.Actions) != 1 || f.Actions[0] != ActionDrop {
					t.Errorf("%s: guard %s does not drop", mode, f)
				}
				got[f.Match()] = true
			} else if a := f.Actions; a[0] != ActionDrop && a[len(a)-1] != Resubmit(TableMACLookup) {
				t.Errorf("%s: %s passes without the MAC check", mode, f)
			}
		}
		for _, m := range []string{"vlan_tci=" + Tagged, "dl_src=" + Multicast, "icmp6,icmp_type=134", "icmp6,icmp_type=137", "ipv6,nw_frag=yes"} {
			if !got[m] {
				t.Errorf("%s: no guard %s", mode, m)
			}
		}
	}
}
