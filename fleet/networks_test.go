package fleet

import (
	"net/netip"
	"testing"
)

// TestNetworksInSettings: the networks list stored with the network settings
// (as set-network stores a file's, through JSON) renders as the file's top-level
// networks key and compiles into the hosts' networks; a bad one is refused with
// its field.
func TestNetworksInSettings(t *testing.T) {
	stored := []byte(`{"encap": "gre", "subnet": "172.17.0.0/16", "networks": [{"name": "app", "subnet": "10.20.0.0/16", "key": 5}]}`)
	network, err := parseNetwork(stored)
	if err != nil {
		t.Fatal(err)
	}
	hosts := []Record{{Name: "h1", Address: netip.MustParseAddr("198.18.0.1"), Index: 1}, {Name: "h2", Address: netip.MustParseAddr("198.18.0.2"), Index: 2}}
	topo, text, err := Compile("fleet", network, hosts)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	s, err := topo.Desired("h2")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Networks) != 1 || s.Networks[0].Name != "app" || s.Networks[0].IPRange != netip.MustParsePrefix("10.20.2.0/24") || s.Networks[0].TunnelKey != 5<<16 {
		t.Fatalf("networks %+v\n%s", s.Networks, text)
	}
	network["networks"] = []any{map[string]any{"name": "bridge", "subnet": "10.20.0.0/16"}}
	if _, _, err := Compile("fleet", network, hosts); err == nil {
		t.Fatal("a network named bridge was accepted")
	}
}
