package topology

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

const netBase = `network:
  subnet: 172.17.0.0/16
hosts:
  - {name: h1, address: 198.18.0.1, index: 1}
  - {name: h2, address: 198.18.0.2, index: 2}
`

// TestNetworksInvalid: each mistake in the networks list is one problem naming
// its file, line and field.
func TestNetworksInvalid(t *testing.T) {
	for _, tc := range []struct{ name, networks, want string }{
		{"docker's own", "  - {name: host, subnet: 10.20.0.0/16}\n", `t.yaml:7:12: networks[0].name: "host" is one of Docker's own networks`},
		{"duplicate", "  - {name: app, subnet: 10.20.0.0/16}\n  - {name: app, subnet: 10.30.0.0/16}\n", `t.yaml:8:12: networks[1].name: "app" is also networks[0].name`},
		{"overlap", "  - {name: a, subnet: 10.20.0.0/16}\n  - {name: b, subnet: 10.20.0.0/24}\n", `t.yaml:8:23: networks[1].subnet: 10.20.0.0/24 overlaps networks[0].subnet 10.20.0.0/16`},
		{"docker0's", "  - {name: a, subnet: 172.17.128.0/20}\n", `networks[0].subnet: 172.17.128.0/20 overlaps network.subnet 172.17.0.0/16`},
		{"underlay", "  - {name: a, subnet: 198.18.0.0/16}\n", `networks[0].subnet: 198.18.0.0/16 holds hosts[0].address 198.18.0.1`},
		{"slices", "  - {name: a, subnet: 10.20.0.0/16, slice_prefix: 17}\n", `t.yaml:7:51: networks[0].slice_prefix: 17 leaves room for 1 hosts (indexes 1 to 1), but hosts[1] h2 has index 2`},
		{"key clash", "  - {name: a, subnet: 10.20.0.0/16, key: 5}\n  - {name: b, subnet: 10.30.0.0/16, key: 5}\n", `networks[1].key: 5 (given) is also networks[0]'s key`},
		{"key range", "  - {name: a, subnet: 10.20.0.0/16, key: 64}\n", `networks[0].key: 64 is out of range (1 to 63)`},
		{"no subnet", "  - {name: a}\n", `networks[0].subnet: missing`},
		{"bridge clash", "  - {name: application-one, subnet: 10.20.0.0/16}\n  - {name: application-one.x, subnet: 10.30.0.0/16}\n", ""},
		{"unknown key", "  - {name: a, subnet: 10.20.0.0/16, vni: 3}\n", `networks[0].vni: unknown key (known keys: key, name, slice_prefix, subnet)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile("t.yaml", []byte(netBase+"networks:\n"+tc.networks))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	_, err := Compile("t.yaml", []byte(strings.Replace(netBase, "network:\n", "network:\n  mode: stp\n", 1)+"networks:\n  - {name: a, subnet: 10.20.0.0/16}\n"))
	if err == nil || !strings.Contains(err.Error(), "networks need mode mesh or tree") {
		t.Fatalf("mode stp with networks: got %v", err)
	}
}

// TestBridgeNames: bridge and port names fit IFNAMSIZ and differ for long names
// that share a beginning.
func TestBridgeNames(t *testing.T) {
	for name, want := range map[string]string{"app": "om-app", "twelve-chars": "om-twelve-chars"} {
		if got := BridgeName(name); got != want {
			t.Errorf("BridgeName(%q) = %q, want %q", name, got, want)
		}
	}
	a, b := BridgeName("application-one"), BridgeName("application-two")
	if a == b || len(a) > maxIfName || len(NetworkPortName("application-one")) > maxIfName {
		t.Errorf("long names: %q %q %q", a, b, NetworkPortName("application-one"))
	}
}

// TestNetworkPlan: a network's host state follows the host's index as docker0's
// does, and the tunnels carry the key in the flow.
func TestNetworkPlan(t *testing.T) {
	topo, err := Compile("t.yaml", []byte(netBase+"networks:\n  - {name: app, subnet: 10.20.0.0/16, key: 3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := mustDesired(t, topo, "h2")
	want := NetworkState{Name: "app", Owner: "h2", Bridge: "om-app", Port: "ov-app", OFPort: NetworkOFPortBase,
		Subnet: mustPrefix("10.20.0.0/16"), IPRange: mustPrefix("10.20.2.0/24"), Gateway: mustPrefix("10.20.0.2/32").Addr(),
		MTU: 1450, TunnelKey: 3 << 16}
	if len(s.Networks) != 1 || s.Networks[0] != want {
		t.Fatalf("networks %+v, want %+v", s.Networks, want)
	}
	if got := s.Bridges(); len(got) != 1 || got[0] != "om-app" {
		t.Errorf("Bridges() = %v", got)
	}
	if len(s.OVS.Internal) != 1 || s.OVS.Internal[0] != (InternalPort{Name: "ov-app", OFPort: NetworkOFPortBase}) {
		t.Errorf("internal ports %+v", s.OVS.Internal)
	}
	// The host firewall drops the tunnel packets of the network's containers too.
	lines := strings.Join(s.Firewall.Lines(), "\n")
	for _, want := range []string{`iifname "om-app" meta l4proto gre counter drop`, `ip saddr 10.20.0.0/16 udp dport 4789 counter drop`,
		`iifname "om-app" oifname != "om-app" meta l4proto gre counter drop`} {
		if !strings.Contains(lines, want) {
			t.Errorf("firewall lacks %q:\n%s", want, lines)
		}
	}
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// TestNetworkPipelineIsDocker0s: in every mode that takes networks, a network's
// pipeline is the table docker0 would get with the network's subnet, moved to
// the network's tables, port and key: every check of docker0's table (guards,
// sources per port, MAC identity and quotas, flooding, relays) holds on it.
func TestNetworkPipelineIsDocker0s(t *testing.T) {
	hosts := "hosts:\n  - {name: h1, address: 198.18.0.1, index: 1}\n  - {name: h2, address: 198.18.0.2, index: 2}\n  - {name: h3, address: 198.18.0.3, index: 3}\n"
	for _, mode := range []string{"mode: mesh", "mode: mesh\n  bfd: true", "mode: tree"} {
		withNets, err := Compile("a.yaml", []byte("network:\n  "+mode+"\n  subnet: 172.17.0.0/16\n"+hosts+
			"networks:\n  - {name: app, subnet: 10.20.0.0/16, key: 3}\n  - {name: other, subnet: 10.30.0.0/16, slice_prefix: 20, key: 9}\n"))
		if err != nil {
			t.Fatal(err)
		}
		for j, sub := range []string{"10.20.0.0/16", "10.30.0.0/16\n  slice_prefix: 20"} {
			alone, err := Compile("b.yaml", []byte("network:\n  "+mode+"\n  subnet: "+sub+"\n"+hosts))
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range []string{"h1", "h3"} {
				s, want := mustDesired(t, withNets, h), mustDesired(t, alone, h)
				n := s.Networks[j]
				moved := naiveRelocate(want.Flows, networkBase(j), n.OFPort, n.TunnelKey, withNets.Relaying())
				var got []Flow
				for _, f := range s.Flows {
					if f.Table >= networkBase(j) && f.Table < networkBase(j+1) {
						got = append(got, f)
					}
				}
				if !slices.EqualFunc(got, moved, Flow.Equal) {
					t.Errorf("%s, %s, network %s: %d flows, want docker0's %d moved", mode, h, n.Name, len(got), len(moved))
				}
			}
		}
	}
}

// naiveRelocate is relocate flow by flow and action by action, sharing nothing.
func naiveRelocate(flows []Flow, base, port int, key uint32, relaying bool) []Flow {
	out := make([]Flow, len(flows))
	for i, f := range flows {
		acts := make([]string, len(f.Actions))
		for k, a := range f.Actions {
			acts[k] = relocateAction(a, base, port, key, relaying)
		}
		g := relocate([]Flow{f}, base, port, key, relaying)[0] // the match fields
		g.Actions = acts
		out[i] = g
	}
	return out
}
