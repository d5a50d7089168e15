package openflow

import (
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// realLines are flows as written to ovs-ofctl (add-flow syntax, our cookie left
// out) and as ovs-vswitchd 3.1.0 prints them back with
// `ovs-ofctl --no-names dump-flows --no-stats` (TestDumpRealOVS checks them
// against a real vswitchd), with their canonical text; want, if set, is a wanted
// flow that must compare equal.
var realLines = []struct {
	written string
	dumped  string
	text    string
	want    *topology.Flow
}{
	{
		// Table 0 and the default priority 32768 are left out; an empty match
		// leaves nothing between the properties and the actions.
		written: "table=0,actions=drop",
		dumped:  " cookie=0x6f76736d657368, actions=drop",
		text:    "table=0,priority=32768,actions=drop",
		want:    &topology.Flow{Table: 0, Priority: 32768, Actions: []string{"drop"}},
	},
	{
		written: "table=3,actions=drop",
		dumped:  " cookie=0x6f76736d657368, table=3, actions=drop",
		text:    "table=3,priority=32768,actions=drop",
	},
	{
		written: "table=3,priority=0,ip,actions=drop",
		dumped:  " cookie=0x6f76736d657368, table=3, priority=0,ip actions=drop",
		text:    "table=3,priority=0,ip,actions=drop",
		want:    &topology.Flow{Table: 3, Priority: 0, Proto: "ip", Actions: []string{"drop"}},
	},
	{
		written: "table=4,priority=32768,ip,actions=drop",
		dumped:  " cookie=0x6f76736d657368, table=4, ip actions=drop",
		text:    "table=4,priority=32768,ip,actions=drop",
		want:    &topology.Flow{Table: 4, Priority: 32768, Proto: "ip", Actions: []string{"drop"}},
	},
	{
		// Properties canonical never writes stay in the identity.
		written: "table=3,priority=7,idle_timeout=30,hard_timeout=60,importance=5,send_flow_rem,reset_counts,ip,actions=drop",
		dumped:  " cookie=0x6f76736d657368, table=3, idle_timeout=30, hard_timeout=60, send_flow_rem reset_counts importance=5, priority=7,ip actions=drop",
		text:    "table=3,priority=7,ip,hard_timeout=60,idle_timeout=30,importance=5,reset_counts,send_flow_rem,actions=drop",
	},
	{
		written: "table=4,reset_counts,actions=drop",
		dumped:  " cookie=0x6f76736d657368, table=4, reset_counts actions=drop",
		text:    "table=4,priority=32768,reset_counts,actions=drop",
	},
	{
		// So do match fields it never writes, wherever vswitchd puts them.
		written: "table=3,priority=8,arp,pkt_mark=0x1,actions=drop",
		dumped:  " cookie=0x6f76736d657368, table=3, priority=8,pkt_mark=0x1,arp actions=drop",
		text:    "table=3,priority=8,arp,pkt_mark=0x1,actions=drop",
	},
	{
		written: "table=3,priority=9,ip,nw_src=10.1.2.3/32,actions=drop",
		dumped:  " cookie=0x6f76736d657368, table=3, priority=9,ip,nw_src=10.1.2.3 actions=drop",
		text:    "table=3,priority=9,ip,nw_src=10.1.2.3,actions=drop",
		want:    &topology.Flow{Table: 3, Priority: 9, Proto: "ip", NwSrc: "10.1.2.3/32", Actions: []string{"drop"}},
	},
	{
		written: "table=3,priority=10,ip,nw_src=10.1.2.3/24,nw_dst=10.9.0.0/255.255.0.0,actions=drop",
		dumped:  " cookie=0x6f76736d657368, table=3, priority=10,ip,nw_src=10.1.2.0/24,nw_dst=10.9.0.0/16 actions=drop",
		text:    "table=3,priority=10,ip,nw_dst=10.9.0.0/16,nw_src=10.1.2.0/24,actions=drop",
		want:    &topology.Flow{Table: 3, Priority: 10, Proto: "ip", NwSrc: "10.1.2.3/24", NwDst: "10.9.1.1/16", Actions: []string{"drop"}},
	},
	{
		// A mask that is no prefix stays dotted: no wanted flow has one.
		written: "table=3,priority=11,ip,nw_src=10.0.0.1/255.0.255.0,actions=drop",
		dumped:  " cookie=0x6f76736d657368, table=3, priority=11,ip,nw_src=10.0.0.0/255.0.255.0 actions=drop",
		text:    "table=3,priority=11,ip,nw_src=10.0.0.0/255.0.255.0,actions=drop",
	},
	{
		written: "table=3,priority=12,dl_dst=AA:BB:CC:00:00:01/ff:ff:ff:ff:ff:ff,actions=drop",
		dumped:  " cookie=0x6f76736d657368, table=3, priority=12,dl_dst=aa:bb:cc:00:00:01 actions=drop",
		text:    "table=3,priority=12,dl_dst=aa:bb:cc:00:00:01,actions=drop",
		want:    &topology.Flow{Table: 3, Priority: 12, DlDst: "AA-BB-CC-00-00-01/FF:FF:FF:FF:FF:FF", Actions: []string{"drop"}},
	},
	{
		written: "table=3,priority=13,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,dl_src=aa:bb:cc:00:00:02,actions=drop",
		dumped:  " cookie=0x6f76736d657368, table=3, priority=13,dl_src=aa:bb:cc:00:00:02,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=drop",
		text:    "table=3,priority=13,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,dl_src=aa:bb:cc:00:00:02,actions=drop",
	},
	{
		// in_port and outputs by number (--no-names), LOCAL and NORMAL in
		// capitals whichever way they were written.
		written: "table=3,priority=14,tcp,tp_dst=80,in_port=tun2,actions=output:tun3,output:LOCAL,normal,local,IN_PORT",
		dumped:  " cookie=0x6f76736d657368, table=3, priority=14,tcp,in_port=32770,tp_dst=80 actions=output:32771,LOCAL,NORMAL,LOCAL,IN_PORT",
		text:    "table=3,priority=14,in_port=32770,tcp,tp_dst=80,actions=output:32771,LOCAL,NORMAL,LOCAL,IN_PORT",
	},
	{
		written: "table=3,priority=15,arp,arp_op=1,arp_spa=10.0.0.1/32,arp_tpa=10.0.0.7/30,actions=mod_dl_dst:aa:bb:cc:dd:ee:ff,resubmit(32770,2),resubmit(,4)",
		dumped:  " cookie=0x6f76736d657368, table=3, priority=15,arp,arp_spa=10.0.0.1,arp_tpa=10.0.0.4/30,arp_op=1 actions=set_field:aa:bb:cc:dd:ee:ff->eth_dst,resubmit(32770,2),resubmit(,4)",
		text:    "table=3,priority=15,arp,arp_op=1,arp_spa=10.0.0.1,arp_tpa=10.0.0.4/30,actions=set_field:aa:bb:cc:dd:ee:ff->eth_dst,resubmit(32770,2),resubmit(,4)",
	},
	{
		written: "table=3,priority=16,ip,nw_src=10.0.0.0/8,actions=set_field:10.0.0.1->nw_dst,learn(table=5,priority=1,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),note:61.62",
		dumped:  " cookie=0x6f76736d657368, table=3, priority=16,ip,nw_src=10.0.0.0/8 actions=set_field:10.0.0.1->ip_dst,learn(table=5,priority=1,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),note:61.62.00.00.00.00",
		text:    "table=3,priority=16,ip,nw_src=10.0.0.0/8,actions=set_field:10.0.0.1->ip_dst,learn(table=5,priority=1,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),note:61.62.00.00.00.00",
	},
	{
		written: "table=200,priority=17,actions=resubmit(,1)",
		dumped:  " cookie=0x6f76736d657368, table=200, priority=17 actions=resubmit(,1)",
		text:    "table=200,priority=17,actions=resubmit(,1)",
		want:    &topology.Flow{Table: 200, Priority: 17, Actions: []string{"resubmit(,1)"}},
	},
}

func TestDumpEntriesRealLines(t *testing.T) {
	for _, tt := range realLines {
		e := dumpEntries([]byte(tt.dumped + "\n"))
		if len(e) != 1 || e[0].text != tt.text {
			t.Errorf("%s\n  -> %+v\n want %q", tt.dumped, e, tt.text)
			continue
		}
		if id, _, _ := strings.Cut(tt.text, ",actions="); e[0].id != id {
			t.Errorf("%s: id %q, want %q", tt.dumped, e[0].id, id)
		}
		if tt.want != nil {
			if _, text, err := canonical(tt.want); err != nil || text != tt.text {
				t.Errorf("wanted %s: canonical %q, %v; want %q", tt.want, text, err, tt.text)
			}
		}
	}
}

// TestDumpEntriesKinds reads what ovs-vswitchd 3.1.0 printed for the flows of
// kinds, with and without statistics (testdata; TestDumpRealOVS checks the file
// without statistics against a real vswitchd), and checks that the canonical
// texts are exactly the flows' String(): the dump of an installed table compares
// equal to the table, so a second Apply sends nothing.
func TestDumpEntriesKinds(t *testing.T) {
	var want []string
	for _, k := range kinds {
		want = append(want, k.flow.String())
	}
	slices.Sort(want)
	for _, path := range []string{"testdata/kinds.dump", "testdata/kinds.nostats.dump"} {
		var have []string
		for _, e := range dumpEntries(readDump(t, path)) {
			have = append(have, e.text)
		}
		slices.Sort(have)
		if !slices.Equal(have, want) {
			t.Errorf("%s:\n%s\nwant:\n%s", path, strings.Join(have, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestDumpAgreesWithOldParser checks that on every line go-openvswitch reads
// without loss, dumpEntries gives the text the former path (go-openvswitch's
// parser, then canonical of the *ovs.Flow) gave.
func TestDumpAgreesWithOldParser(t *testing.T) {
	out := readDump(t, "testdata/kinds.dump")
	old, err := oldDumpEntries(out)
	if err != nil {
		t.Fatal(err)
	}
	have := dumpEntries(out)
	if len(have) != len(old) || len(have) != len(kinds) {
		t.Fatalf("%d entries, old parser %d, want %d", len(have), len(old), len(kinds))
	}
	for i := range have {
		if have[i].id != old[i].id || have[i].text != old[i].text || have[i].flow != old[i].flow {
			t.Errorf("entry %d: %+v, old parser %+v", i, have[i], old[i])
		}
	}
}

// TestDumpEntriesOfGeneratedFlows checks the property that matters: for any
// flow of topology's vocabulary, the canonical text of vswitchd's line (as
// vswitchdLine models it, with and without statistics) is the canonical text of
// the wanted flow.
func TestDumpEntriesOfGeneratedFlows(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	flows := genFlows(r, 3000)
	want, err := wantEntries(flows)
	if err != nil {
		t.Fatal(err)
	}
	for _, stats := range []bool{true, false} {
		var out strings.Builder
		out.WriteString("OFPST_FLOW reply (OF1.4) (xid=0x6):\n")
		for i, f := range flows {
			if stats && i%1000 == 999 {
				// A long dump is printed as several replies.
				out.WriteString("OFPST_FLOW reply (OF1.4) (xid=0x6): flags=[more]\n")
			}
			out.WriteString(vswitchdLine(f, stats) + "\n")
		}
		have := dumpEntries([]byte(out.String()))
		if len(have) != len(flows) {
			t.Fatalf("stats %v: %d entries for %d lines", stats, len(have), len(flows))
		}
		for i := range flows {
			if have[i].id != want[i].id || have[i].text != want[i].text {
				t.Errorf("%s\n  line %s\n  -> %q\n  want %q", flows[i], vswitchdLine(flows[i], stats), have[i].text, want[i].text)
			}
		}
		if p := diff(want, have); len(p.changes()) != 0 {
			t.Errorf("stats %v: diff of a table with its own dump: %q", stats, p.changes())
		}
	}
}

func TestDumpEntriesUnreadable(t *testing.T) {
	for _, line := range []string{
		"ovs-ofctl: something went wrong",
		"cookie=0x6f76736d657368, table=1, priority=1",
		"table=1, priority=1 actions=drop",
	} {
		e := dumpEntries([]byte("\n" + line + "\n\n"))
		if len(e) != 1 || e[0].id != "unreadable("+line+")" || e[0].text != e[0].id {
			t.Errorf("%q -> %+v, want one unreadable entry", line, e)
		}
	}
	// Another cookie (which the dump's filter excludes) is kept in the identity.
	e := dumpEntries([]byte(" cookie=0x1, table=1, priority=1 actions=drop\n"))
	if len(e) != 1 || e[0].text != "table=1,priority=1,cookie=0x1,actions=drop" {
		t.Errorf("foreign cookie -> %+v", e)
	}
	if e := dumpEntries(nil); len(e) != 0 {
		t.Errorf("empty dump -> %+v", e)
	}
}

// FuzzDumpEntries checks that no dump text is lost or crashes the parser: one
// entry per line that is neither blank nor a reply header, identities that are
// prefixes of the texts, and a readable line's identity starts with its table
// and priority.
func FuzzDumpEntries(f *testing.F) {
	for _, tt := range realLines {
		f.Add(tt.dumped)
	}
	for _, k := range kinds {
		f.Add(vswitchdLine(k.flow, true))
		f.Add(vswitchdLine(k.flow, false))
	}
	f.Add(string(readDump(f, "testdata/kinds.dump")))
	f.Add(" cookie=0x6f76736d657368, table=1, priority=1 actions=resubmit(,1),output:LOCAL,local,normal,(,[,{,},],)")
	f.Fuzz(func(t *testing.T, s string) {
		entries := dumpEntries([]byte(s))
		lines := 0
		for l := range strings.Lines(s) {
			l = strings.TrimSpace(l)
			if l != "" && !strings.HasPrefix(l, "OFPST_FLOW reply") && !strings.HasPrefix(l, "NXST_FLOW reply") {
				lines++
			}
		}
		if len(entries) != lines {
			t.Fatalf("%d entries for %d lines", len(entries), lines)
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.text, e.id) {
				t.Fatalf("id %q is not a prefix of text %q", e.id, e.text)
			}
			if !strings.HasPrefix(e.id, "unreadable(") && (!strings.HasPrefix(e.id, "table=") || !strings.Contains(e.id, ",priority=")) {
				t.Fatalf("id %q", e.id)
			}
		}
	})
}

func TestFlowCount(t *testing.T) {
	n, err := flowCount([]byte("OFPST_AGGREGATE reply (OF1.4) (xid=0x6): packet_count=0 byte_count=0 flow_count=25\n"))
	if err != nil || n != 25 {
		t.Errorf("flowCount = %d, %v; want 25", n, err)
	}
	if _, err := flowCount([]byte("ovs-ofctl: br0 is not a bridge or a socket")); err == nil {
		t.Error("flowCount of an error message succeeded")
	}
}

// readDump reads a dump file of testdata without its # comment lines.
func readDump(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for l := range strings.Lines(string(b)) {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, ""))
}

// TestStrictMatch: the match a strict delete names is the dumped one, flags and
// other properties left out (TestDumpRealOVS deletes these flows on a real
// ovs-vswitchd).
func TestStrictMatch(t *testing.T) {
	for dumped, want := range map[string]string{
		" cookie=0x6f76736d657368, table=4, reset_counts actions=drop":                                                                             "table=4",
		" cookie=0x6f76736d657368, table=3, idle_timeout=30, hard_timeout=60, send_flow_rem reset_counts importance=5, priority=7,ip actions=drop": "table=3,priority=7,ip",
		" cookie=0x6f76736d657368, table=3, priority=8,pkt_mark=0x1,arp actions=drop":                                                              "table=3,priority=8,pkt_mark=0x1,arp",
		" cookie=0x6f76736d657368, table=4, ip actions=drop":                                                                                       "table=4,ip",
		"cookie=0x6f76736d657368, duration=3.5s, table=1, n_packets=0, n_bytes=0, priority=100,arp,arp_tpa=172.17.0.2 actions=output:32770":        "table=1,priority=100,arp,arp_tpa=172.17.0.2",
	} {
		e := dumpEntries([]byte(dumped))
		if len(e) != 1 || e[0].match != want {
			t.Errorf("%s\n  -> %+v\n want match %q", dumped, e, want)
		}
	}
	if e := dumpEntries([]byte("garbage")); len(e) != 1 || e[0].match != "" {
		t.Errorf("unreadable line: %+v, want no match (a full replace)", e)
	}
}
