package openflow

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/digitalocean/go-openvswitch/ovs"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Flows of a small table, as topology writes them.
var (
	fDrop   = topology.Flow{Table: 0, Priority: 1, Actions: []string{"drop"}}
	fLocal  = topology.Flow{Table: 0, Priority: 80, InPort: topology.PortLocal, Actions: []string{"resubmit(,1)"}}
	fARP    = topology.Flow{Table: 1, Priority: 100, Proto: "arp", ArpTPA: "172.17.0.2", Actions: []string{"output:32770"}}
	fFlood  = topology.Flow{Table: 1, Priority: 1, Actions: []string{"output:32770", "output:32771"}}
	fFlood1 = topology.Flow{Table: 1, Priority: 1, Actions: []string{"output:32770"}}
	fSpoof  = topology.Flow{Table: 0, Priority: 100, InPort: 32771, Proto: "ip", NwSrc: "172.17.0.3", Actions: []string{"resubmit(,2)"}}
)

// dumped returns the flows as go-openvswitch parses them from vswitchd's dump.
func dumped(t *testing.T, lines ...string) []*ovs.Flow {
	t.Helper()
	var out []*ovs.Flow
	for _, l := range lines {
		f := new(ovs.Flow)
		if err := f.UnmarshalText([]byte(l)); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		out = append(out, f)
	}
	return out
}

// dumpLine is how ovs-vswitchd 3.1 prints a flow of ours (see testdata/kinds.dump).
func dumpLine(f topology.Flow) string {
	head := "cookie=0x6f76736d657368, duration=3.5s, table=" + strconv.Itoa(f.Table) + ", n_packets=0, n_bytes=0, priority=" + strconv.Itoa(f.Priority)
	if m := f.Match(); m != "" {
		head += "," + m
	}
	return head + " actions=" + strings.Join(f.Actions, ",")
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name    string
		want    []topology.Flow
		have    []string // dump lines
		changes []string
		replace bool
		add     []string // canonical texts of the flows the bundle adds
	}{
		{
			name: "equal",
			want: []topology.Flow{fDrop, fLocal, fARP, fFlood},
			have: []string{dumpLine(fFlood), dumpLine(fARP), dumpLine(fLocal), dumpLine(fDrop)},
		},
		{
			name:    "first install",
			want:    []topology.Flow{fDrop, fARP},
			changes: []string{"add flow " + fDrop.String(), "add flow " + fARP.String()},
			add:     []string{fDrop.String(), fARP.String()},
		},
		{
			name:    "a deleted flow is added alone",
			want:    []topology.Flow{fDrop, fLocal, fARP},
			have:    []string{dumpLine(fDrop), dumpLine(fARP)},
			changes: []string{"add flow " + fLocal.String()},
			add:     []string{fLocal.String()},
		},
		{
			// An add replaces the flow with the same table, priority and match.
			name:    "changed actions are an add",
			want:    []topology.Flow{fDrop, fFlood1},
			have:    []string{dumpLine(fDrop), dumpLine(fFlood)},
			changes: []string{"add flow " + fFlood1.String(), "delete flow " + fFlood.String()},
			add:     []string{fFlood1.String()},
		},
		{
			name:    "an unwanted flow means full replace",
			want:    []topology.Flow{fDrop, fARP},
			have:    []string{dumpLine(fDrop), dumpLine(fARP), dumpLine(fSpoof)},
			changes: []string{"delete flow " + fSpoof.String()},
			replace: true,
			add:     []string{fDrop.String(), fARP.String()},
		},
		{
			name:    "nothing wanted",
			have:    []string{dumpLine(fDrop)},
			changes: []string{"delete flow " + fDrop.String()},
			replace: true,
		},
		{
			// ovs-ofctl add-flow without -O prints "reset_counts" before the
			// priority in an OpenFlow 1.4 dump, and go-openvswitch then loses the
			// priority: such a flow is replaced by ours.
			name:    "a hand-added flow with our cookie",
			want:    []topology.Flow{fDrop},
			have:    []string{"cookie=0x6f76736d657368, duration=1.2s, table=0, n_packets=0, n_bytes=0, reset_counts priority=1 actions=drop"},
			changes: []string{"add flow " + fDrop.String(), "delete flow table=0,priority=0,actions=drop"},
			replace: true,
			add:     []string{fDrop.String()},
		},
		{
			// go-openvswitch skips match fields it does not know: two installed
			// flows then look the same, and both must go.
			name: "a flow that differs only in a field the parser skips",
			want: []topology.Flow{fARP},
			have: []string{dumpLine(fARP),
				"cookie=0x6f76736d657368, duration=1.2s, table=1, n_packets=0, n_bytes=0, priority=100,arp,arp_tpa=172.17.0.2,pkt_mark=0x1 actions=output:32770"},
			changes: []string{"delete flow " + fARP.String()},
			replace: true,
			add:     []string{fARP.String()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := wantEntries(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			p := diff(want, haveEntries(dumped(t, tt.have...)))
			if got := p.changes(); !slices.Equal(got, tt.changes) {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.changes, "\n"))
			}
			if p.replace != tt.replace {
				t.Errorf("replace = %v, want %v", p.replace, tt.replace)
			}
			var add []string
			for _, e := range p.add {
				add = append(add, e.text)
			}
			if !slices.Equal(add, tt.add) {
				t.Errorf("adds:\n%s\nwant:\n%s", strings.Join(add, "\n"), strings.Join(tt.add, "\n"))
			}
		})
	}
}

func TestWantEntriesRejectsSameMatch(t *testing.T) {
	_, err := wantEntries([]topology.Flow{fFlood, fFlood1})
	if err == nil || !strings.Contains(err.Error(), "same table, priority and match") {
		t.Errorf("err = %v, want a same-match error", err)
	}
}

func TestLabTableIsConsistent(t *testing.T) {
	for _, host := range []string{"docker1", "docker2", "docker3"} {
		flows := labFlows(t, host)
		want, err := wantEntries(flows)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		for i, e := range want {
			if s := flows[i].String(); e.text != s {
				t.Errorf("%s: canonical %q, String %q", host, e.text, s)
			}
		}
	}
}
