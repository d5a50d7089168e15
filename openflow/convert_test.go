package openflow

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// kinds holds one flow of every kind topology computes (all modes), with the text
// go-openvswitch writes for it.
var kinds = []struct {
	flow topology.Flow
	text string // go-openvswitch's MarshalText: what the bundle carries
}{
	{
		topology.Flow{Table: 0, Priority: 100, InPort: topology.PortLocal, Proto: "ip", NwSrc: "172.17.64.0/18", Actions: []string{topology.Resubmit(1)}},
		"priority=100,ip,in_port=LOCAL,nw_src=172.17.64.0/18,table=0,idle_timeout=0,cookie=0x006f76736d657368,actions=resubmit(,1)",
	},
	{
		topology.Flow{Table: 0, Priority: 100, InPort: 32770, Proto: "arp", ArpSPA: "172.17.0.2", Actions: []string{topology.Resubmit(2)}},
		"priority=100,arp,in_port=32770,arp_spa=172.17.0.2,table=0,idle_timeout=0,cookie=0x006f76736d657368,actions=resubmit(,2)",
	},
	{
		topology.Flow{Table: 0, Priority: 100, InPort: topology.PortLocal, Proto: "arp", ArpSPA: "0.0.0.0", Actions: []string{topology.ActionNormal}},
		"priority=100,arp,in_port=LOCAL,arp_spa=0.0.0.0,table=0,idle_timeout=0,cookie=0x006f76736d657368,actions=normal",
	},
	{
		topology.Flow{Table: 0, Priority: 90, InPort: 32771, Proto: "ip", Actions: []string{topology.ActionDrop}},
		"priority=90,ip,in_port=32771,table=0,idle_timeout=0,cookie=0x006f76736d657368,actions=drop",
	},
	{
		topology.Flow{Table: 0, Priority: 90, Proto: "arp", Actions: []string{topology.ActionDrop}},
		"priority=90,arp,table=0,idle_timeout=0,cookie=0x006f76736d657368,actions=drop",
	},
	{
		topology.Flow{Table: 0, Priority: 80, InPort: topology.PortLocal, Actions: []string{topology.Resubmit(1)}},
		"priority=80,in_port=LOCAL,table=0,idle_timeout=0,cookie=0x006f76736d657368,actions=resubmit(,1)",
	},
	{
		topology.Flow{Table: 1, Priority: 100, Proto: "arp", ArpTPA: "172.17.128.0/18", Actions: []string{topology.Output(32770)}},
		"priority=100,arp,arp_tpa=172.17.128.0/18,table=1,idle_timeout=0,cookie=0x006f76736d657368,actions=output:32770",
	},
	{
		topology.Flow{Table: 1, Priority: 100, Proto: "ip", DlDst: topology.Unicast, NwDst: "172.17.0.3", Actions: []string{topology.Output(32771)}},
		"priority=100,ip,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00,nw_dst=172.17.0.3,table=1,idle_timeout=0,cookie=0x006f76736d657368,actions=output:32771",
	},
	{
		topology.Flow{Table: 1, Priority: 1, Actions: []string{topology.Output(32770), topology.Output(32771)}},
		"priority=1,table=1,idle_timeout=0,cookie=0x006f76736d657368,actions=output:32770,output:32771",
	},
	{
		topology.Flow{Table: 2, Priority: 1, Actions: []string{topology.ActionLocal}},
		"priority=1,table=2,idle_timeout=0,cookie=0x006f76736d657368,actions=local",
	},
	{
		topology.Flow{Table: 0, Priority: 1, Actions: []string{topology.ActionNormal}},
		"priority=1,table=0,idle_timeout=0,cookie=0x006f76736d657368,actions=normal",
	},
}

// TestToOVS checks every kind of flow topology computes: what go-openvswitch
// writes for ovs-ofctl, and that the canonical text is topology's String().
func TestToOVS(t *testing.T) {
	for _, tt := range kinds {
		t.Run(tt.flow.String(), func(t *testing.T) {
			o, err := toOVS(tt.flow)
			if err != nil {
				t.Fatal(err)
			}
			b, err := o.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.text {
				t.Errorf("MarshalText:\n got %s\nwant %s", b, tt.text)
			}
			checkCanonicalIsString(t, tt.flow)
			// The former canonicalization, through go-openvswitch's values,
			// gives the same text.
			if _, text, err := oldCanonical(o); err != nil || text != tt.flow.String() {
				t.Errorf("oldCanonical = %q, %v; want %q", text, err, tt.flow.String())
			}
		})
	}
}

// checkCanonicalIsString checks that the canonical text of a flow is its String()
// (as documented) and that its identity is the text without the actions.
func checkCanonicalIsString(t *testing.T, f topology.Flow) {
	t.Helper()
	id, text, err := canonical(&f)
	if err != nil || text != f.String() {
		t.Errorf("canonical = %q, %v; want %q", text, err, f.String())
	}
	if want, _, _ := strings.Cut(f.String(), ",actions="); id != want {
		t.Errorf("canonical id = %q, want %q", id, want)
	}
}

// TestCanonicalIsStringForEveryTopologyFlow checks topology's documented promise
// on every flow of every host of every example and of meshes in each mode.
func TestCanonicalIsStringForEveryTopologyFlow(t *testing.T) {
	paths, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("examples: %v, %v", paths, err)
	}
	var tops []*topology.Topology
	for _, p := range paths {
		top, err := topology.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		tops = append(tops, top)
	}
	for _, mode := range []string{topology.ModeMesh, topology.ModeTree, topology.ModeSTP} {
		tops = append(tops, compileMesh(t, 12, mode))
	}
	n := 0
	for _, top := range tops {
		for _, h := range top.Hosts {
			for _, f := range desired(t, top, h.Name) {
				checkCanonicalIsString(t, f)
				n++
			}
		}
	}
	t.Logf("%d flows", n)
}

func TestCanonicalErrors(t *testing.T) {
	tests := []struct {
		flow topology.Flow
		want string
		ovs  bool // toOVS fails too (go-openvswitch fails on the others later)
	}{
		{topology.Flow{Priority: 1, Proto: "udp", Actions: []string{"drop"}}, `unknown protocol "udp"`, true},
		{topology.Flow{Priority: 1, Actions: []string{"learn(table=3, NXM_OF_ETH_SRC[])"}}, `unknown action "learn(table=3, NXM_OF_ETH_SRC[])"`, true},
		{topology.Flow{Priority: 1, DlSrc: "01:00:00:00:00", Actions: []string{"drop"}}, `dl_src: "01:00:00:00:00" is not a MAC address`, false},
		{topology.Flow{Priority: 1, InPort: -7, Actions: []string{"drop"}}, "invalid in_port -7", true},
		{topology.Flow{Priority: 1, Actions: []string{"flood"}}, `unknown action "flood"`, true},
		{topology.Flow{Priority: 1, Actions: []string{"local"}}, `unknown action "local"`, true},
		{topology.Flow{Priority: 1, Actions: []string{"output:x"}}, `action "output:x": invalid port`, true},
		{topology.Flow{Priority: 1, Actions: []string{"output:0"}}, `action "output:0": invalid port`, true},
		{topology.Flow{Priority: 1, Actions: []string{"resubmit(,00)"}}, `action "resubmit(,00)": invalid table`, true},
		{topology.Flow{Priority: 1, Proto: "ip", NwSrc: "10.0.0.300", Actions: []string{"drop"}}, `nw_src: "10.0.0.300" is not an IPv4 address`, false},
		{topology.Flow{Priority: 1, Proto: "ip", NwDst: "10.0.0.0/255.0.0.0", Actions: []string{"drop"}}, `nw_dst: "10.0.0.0/255.0.0.0" is not an IPv4 address`, false},
		{topology.Flow{Priority: 1, Proto: "arp", ArpTPA: "fe80::1", Actions: []string{"drop"}}, `arp_tpa: "fe80::1" is not an IPv4 address`, false},
		{topology.Flow{Priority: 1, Proto: "arp", ArpSPA: "10.0.0.0/33", Actions: []string{"drop"}}, `arp_spa: "10.0.0.0/33" is not an IPv4 address`, false},
		{topology.Flow{Priority: 1, DlDst: "00:00:00:00:00", Actions: []string{"drop"}}, `dl_dst: "00:00:00:00:00" is not a MAC address`, false},
		{topology.Flow{Priority: 1, DlDst: "00:00:00:00:00:00/01", Actions: []string{"drop"}}, `invalid MAC mask`, false},
	}
	for _, tt := range tests {
		_, err := wantEntries([]topology.Flow{tt.flow})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("wantEntries(%s) = %v, want an error containing %q", tt.flow, err, tt.want)
		}
		// The former path failed on the same flows.
		if _, err := oldWantEntries([]topology.Flow{tt.flow}); err == nil {
			t.Errorf("oldWantEntries(%s) accepted it", tt.flow)
		}
		if _, err := toOVS(tt.flow); tt.ovs && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("toOVS(%s) = %v, want an error containing %q", tt.flow, err, tt.want)
		}
	}
}

// TestCanonicalAgreesWithOld checks that canonical writes the text the former
// canonicalization (through go-openvswitch's values) wrote, also for flows
// topology never computes, with values vswitchd rewrites.
func TestCanonicalAgreesWithOld(t *testing.T) {
	flows := []topology.Flow{
		{Table: 3, Priority: 9, Proto: "ip", NwSrc: "10.1.2.3/32", Actions: []string{"drop"}},
		{Table: 3, Priority: 10, Proto: "ip", NwSrc: "10.1.2.3/24", NwDst: "10.9.8.7", Actions: []string{"output:7", "LOCAL", "NORMAL"}},
		{Table: 3, Priority: 11, Proto: "arp", ArpSPA: "10.1.2.3/8", ArpTPA: "0.0.0.0", Actions: []string{"output:+7", "output:007"}},
		{Table: 3, Priority: 12, DlDst: "AA:BB:CC:00:00:01/FF:FF:FF:FF:FF:FF", Actions: []string{"resubmit(,07)"}},
		{Table: 3, Priority: 13, DlDst: "aa-bb-cc-00-00-01/01-00-00-00-00-00", Actions: []string{"resubmit(,7)"}},
		{Table: 3, Priority: 14, InPort: 5, Proto: "ip", DlDst: topology.Unicast, NwSrc: "192.0.2.0/24", NwDst: "198.51.100.1/16", Actions: []string{"output:5"}},
		{Table: 3, Priority: 32768, InPort: topology.PortLocal, Actions: nil},
	}
	flows = append(flows, genFlows(rand.New(rand.NewPCG(1, 2)), 500)...)
	for _, f := range flows {
		o, err := toOVS(f)
		if err != nil {
			t.Fatal(err)
		}
		oid, otext, err := oldCanonical(o)
		if err != nil {
			t.Fatal(err)
		}
		id, text, err := canonical(&f)
		if err != nil || id != oid || text != otext {
			t.Errorf("%s:\ncanonical    %q, %q, %v\noldCanonical %q, %q", f, id, text, err, oid, otext)
		}
	}
}

// labFlows returns the desired flow table of a host of examples/lab.yaml.
func labFlows(t testing.TB, host string) []topology.Flow {
	t.Helper()
	top, err := topology.Load("../examples/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := top.Desired(host)
	if err != nil {
		t.Fatal(err)
	}
	return st.Flows
}
