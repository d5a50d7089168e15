package openflow

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/digitalocean/go-openvswitch/ovs"

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
			if _, text, err := canonical(o); err != nil || text != tt.flow.String() {
				t.Errorf("canonical = %q, %v; want %q", text, err, tt.flow.String())
			}
		})
	}
}

func TestToOVSErrors(t *testing.T) {
	tests := []struct {
		flow topology.Flow
		want string
	}{
		{topology.Flow{Priority: 1, Proto: "ipv6", Actions: []string{"drop"}}, `unknown protocol "ipv6"`},
		{topology.Flow{Priority: 1, InPort: -7, Actions: []string{"drop"}}, "invalid in_port -7"},
		{topology.Flow{Priority: 1, Actions: []string{"flood"}}, `unknown action "flood"`},
		{topology.Flow{Priority: 1, Actions: []string{"output:x"}}, `action "output:x": invalid port`},
		{topology.Flow{Priority: 1, Actions: []string{"resubmit(,0)"}}, `action "resubmit(,0)": invalid table`},
	}
	for _, tt := range tests {
		_, err := toOVS(tt.flow)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("toOVS(%s) = %v, want an error containing %q", tt.flow, err, tt.want)
		}
	}
}

// TestCanonicalOfDump parses what ovs-vswitchd 3.1.0 really printed for the flows
// of kinds (testdata/kinds.dump, see TestRealDumpText for how to refresh it) with
// go-openvswitch and checks that the canonical texts are exactly the flows'
// String(): the dump of an installed table compares equal to the table, so a
// second Apply sends nothing.
func TestCanonicalOfDump(t *testing.T) {
	var want []string
	for _, k := range kinds {
		want = append(want, k.flow.String())
	}
	slices.Sort(want)

	var have []string
	for _, f := range readDump(t, "testdata/kinds.dump") {
		_, text, err := canonical(f)
		if err != nil {
			t.Fatal(err)
		}
		have = append(have, text)
	}
	slices.Sort(have)
	if !slices.Equal(have, want) {
		t.Errorf("canonical dump:\n%s\nwant:\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
}

// TestCanonicalNormalizes checks the rewrites ovs-vswitchd makes: the dump line
// (as go-openvswitch parses it) and the flow as written must compare equal.
func TestCanonicalNormalizes(t *testing.T) {
	tests := []struct{ written, dumped string }{
		// vswitchd 3.1 prints a /32 as a bare host address.
		{"priority=5,ip,nw_src=10.1.2.3/32,table=3,actions=drop",
			"cookie=0x6f76736d657368, duration=0.028s, table=3, n_packets=0, n_bytes=0, priority=5,ip,nw_src=10.1.2.3 actions=drop"},
		// Host bits under the mask are cleared.
		{"priority=5,ip,nw_src=10.1.2.3/24,table=3,actions=drop",
			"cookie=0x6f76736d657368, duration=0.028s, table=3, n_packets=0, n_bytes=0, priority=5,ip,nw_src=10.1.2.0/24 actions=drop"},
		// Actions: go-openvswitch writes local and normal, ovs-ofctl prints them in capitals.
		{"priority=6,ip,nw_src=10.1.2.3,table=3,actions=local,normal",
			"cookie=0x6f76736d657368, duration=0.028s, table=3, n_packets=0, n_bytes=0, priority=6,ip,nw_src=10.1.2.3 actions=LOCAL,NORMAL"},
		{"priority=6,dl_dst=AA:BB:CC:00:00:01/ff:ff:ff:ff:ff:ff,table=3,actions=drop",
			"cookie=0x6f76736d657368, duration=0.028s, table=3, n_packets=0, n_bytes=0, priority=6,dl_dst=aa:bb:cc:00:00:01 actions=drop"},
	}
	for _, tt := range tests {
		var w, d ovs.Flow
		if err := w.UnmarshalText([]byte(tt.written)); err != nil {
			t.Fatalf("%s: %v", tt.written, err)
		}
		if err := d.UnmarshalText([]byte(tt.dumped)); err != nil {
			t.Fatalf("%s: %v", tt.dumped, err)
		}
		_, wt, err1 := canonical(&w)
		_, dt, err2 := canonical(&d)
		if err1 != nil || err2 != nil || wt != dt {
			t.Errorf("written %s\n  -> %q (%v)\ndumped  %s\n  -> %q (%v)", tt.written, wt, err1, tt.dumped, dt, err2)
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

// readDump parses an ovs-ofctl dump-flows output file with go-openvswitch,
// skipping comment lines and the reply header.
func readDump(t *testing.T, path string) []*ovs.Flow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var flows []*ovs.Flow
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "#") || strings.Contains(line, "ST_FLOW reply") {
			continue
		}
		fl := new(ovs.Flow)
		if err := fl.UnmarshalText([]byte(line)); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		flows = append(flows, fl)
	}
	return flows
}
